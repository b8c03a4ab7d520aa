"""README's per-task figures, drawn from the bundled models (small PNGs in docs/images/).

    python tools/make_figures.py                 # all four, ~1 min on 2 cores
    python tools/make_figures.py --only speech   # one of: captioning speech translation video

- captioning_attention.png: a bundled sample scene, its caption, and where the decoder's
  cross-attention looks while writing each word;
- speech_alignment.png: a held-out fixture utterance, its spectrogram, the CTC per-frame
  character probabilities and the word timestamps of ``pipelines.transcribe``;
- translation_attention.png: the cross-attention of the translator over one software string;
- video_timeline.png: frames of a generated held-out clip and the per-frame labels over time,
  predicted against the truth.
(The style grid has its own script, tools/make_style_grid.py.)
"""

import argparse
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
OUT = os.path.join(ROOT, "docs", "images")


def captioning(plt, np, tf):
    from tasks.captioning.task import CaptioningTask

    task = CaptioningTask.from_preset("emoji_scenes_transformer")
    image = open(os.path.join(ROOT, "pipelines", "samples", "scene_1.jpg"), "rb").read()
    caption = task.caption([image], beam_width=3)[0]
    pixels = task.preprocessor.image_preprocessor(tf.constant([image]))
    grid = task.model.get_layer("image_encoder")(pixels)
    tokens = task.preprocessor.tokenizer(tf.constant([caption]))[:, :-1]
    words = caption.split()
    maps = task.model.get_layer("decoder").cross_attention_maps(tokens, grid).numpy()[0].mean(0)
    side = grid.shape[1]
    fig, axes = plt.subplots(1, len(words) + 1, figsize=(1.6 * (len(words) + 1), 2.0))
    axes[0].imshow(pixels[0]); axes[0].set_title("input", fontsize=8); axes[0].axis("off")
    for i, ax in enumerate(axes[1:]):
        heat = tf.image.resize(maps[i].reshape(side, side, 1), pixels.shape[1:3]).numpy()[..., 0]
        ax.imshow(pixels[0]); ax.imshow(heat, alpha=0.5, cmap="jet"); ax.axis("off")
        ax.set_title(words[i], fontsize=8)
    fig.suptitle(f'"{caption}" (emoji_scenes_transformer, beam 3)', fontsize=9)
    return fig


def speech(plt, np, tf):
    import pipelines
    from tasks.speech.data import load_audio, read_ljspeech
    from tasks.speech.presets import DEFAULT_PRESET
    from tasks.speech.task import SpeechTask

    task = SpeechTask.from_preset(DEFAULT_PRESET)
    held_out = [e for e in read_ljspeech(os.path.join(ROOT, "tests", "fixtures", "speech_en_tiny"))
                if os.path.basename(e["audio"]).startswith("test_0")]
    example = max(held_out, key=lambda e: len(e["text"]))  # the longest held-out sentence
    audio = load_audio(example["audio"])
    probs = tf.nn.softmax(task.logits(audio[None], [len(audio)])[0]).numpy()
    result = pipelines.transcribe(example["audio"], return_timestamps="word")
    labels = ["_"] + list(task.preprocessor.alphabet)
    seconds = len(audio) / 16000
    fig, (a, b) = plt.subplots(2, 1, figsize=(10, 4.2), sharex=True)
    # a faint dither: digital silence would be log(0), drawn as white columns
    dither = 1e-4 * np.random.default_rng(0).standard_normal(len(audio))
    a.specgram(audio + dither, Fs=16000, NFFT=400, noverlap=240, cmap="magma")
    a.set_ylabel("Hz")
    for word in result["words"]:
        a.axvspan(word["start"], word["end"], color="cyan", alpha=0.15)
        a.text((word["start"] + word["end"]) / 2, 7200, word["word"], color="white", ha="center",
               fontsize=8)
    frame = seconds / len(probs)
    b.imshow(probs.T, origin="lower", aspect="auto", cmap="magma",
             extent=(0, len(probs) * frame, -0.5, len(labels) - 0.5))
    b.set_yticks(range(len(labels))); b.set_yticklabels(labels, fontsize=5)
    b.set_xlabel("seconds"); b.set_ylabel("CTC output")
    fig.suptitle(f'transcript: "{result["text"]}"\ntruth: "{example["text"]}"', fontsize=9)
    return fig


def translation(plt, np, tf):
    from tasks.translation.task import TranslationTask

    task = TranslationTask.from_preset("debian_en_fr_transformer")
    source = "Could not open the selected file."
    target = task.translate([source], beam_width=4)[0]
    tok = task.preprocessor.tokenizer
    x, _ = task.preprocessor.training_batch(tf.constant([source]), tf.constant([target]))
    n_src = int(tf.reduce_sum(tf.cast(x["source"][0] > 0, tf.int32)))
    target_ids = tok.encode_py(target)
    n_tgt = len(target_ids) + 1
    maps = task.model.get_layer("seq2seq").cross_attention(x["source"][:, :n_src],
                                                           x["target_in"][:, :n_tgt])
    piece = lambda i: tok._piece_bytes[i].decode("utf-8", "replace")  # noqa: E731
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(maps[0].numpy().mean(0), cmap="viridis")
    ax.set_xticks(range(n_src))
    ax.set_xticklabels([piece(i) for i in x["source"][0, :n_src].numpy()], rotation=90, fontsize=8)
    ax.set_yticks(range(n_tgt))
    ax.set_yticklabels([piece(i) for i in target_ids] + ["</s>"], fontsize=8)
    ax.set_title(f'"{source}" -> "{target}"', fontsize=8)
    return fig


def video(plt, np, tf):
    import pipelines
    from tasks.video.benchmark import build_benchmark, read_benchmark
    from tasks.video.data import decode_clip
    from tasks.video.task import VideoTask

    task = VideoTask.from_preset("emoji_events_bigru")
    names = task.config["labels"]
    with tempfile.TemporaryDirectory() as tmp:
        root = build_benchmark(tmp, sizes={"train": 1, "val": 1, "test": 1}, seed=0, progress=False)
        clip = read_benchmark(root, "test")[0]
        frames, truth, times = decode_clip(clip, names, 8, 64, 64)
        result = pipelines.annotate_video(clip["path"])
    predicted = [names.index(f["label"]) for f in result["frames"]]
    fig = plt.figure(figsize=(10, 4.0))
    for k, i in enumerate(range(0, len(frames), max(1, len(frames) // 8))):
        if k == 8:
            break
        ax = fig.add_subplot(2, 8, k + 1)
        ax.imshow(frames[i]); ax.axis("off")
        ax.set_title(f"{times[i]:.1f}s {result['frames'][i]['label']}", fontsize=7)
    ax = fig.add_subplot(2, 1, 2)
    ax.step(times, truth, where="post", label="truth")
    ax.step(times, predicted, where="post", label="predicted", linestyle="--")
    ax.set_yticks(range(len(names))); ax.set_yticklabels(names, fontsize=7)
    ax.set_xlabel("seconds"); ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f'caption: "{result["caption"]}"\ntruth: "{clip["captions"][0]}"', fontsize=8)
    return fig


FIGURES = {"captioning": ("captioning_attention.png", captioning),
           "speech": ("speech_alignment.png", speech),
           "translation": ("translation_attention.png", translation),
           "video": ("video_timeline.png", video)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(FIGURES), nargs="*", default=sorted(FIGURES))
    parser.add_argument("--output-dir", default=OUT)
    args = parser.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import tensorflow as tf

    os.makedirs(args.output_dir, exist_ok=True)
    for name in args.only:
        filename, draw = FIGURES[name]
        fig = draw(plt, np, tf)
        fig.tight_layout()
        path = os.path.join(args.output_dir, filename)
        fig.savefig(path, dpi=80)
        plt.close(fig)
        print(f"{name}: {path} ({os.path.getsize(path) // 1024} KB)", flush=True)


if __name__ == "__main__":
    main()
