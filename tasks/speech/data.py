"""Speech corpus readers: LJSpeech, LibriSpeech and Common Voice layouts.

Every reader returns a list of ``{"id", "audio": path, "text", "speaker"}``;
``load_audio`` reads any libsndfile format (WAV, FLAC, OGG, MP3) to float32 mono at
the requested rate.

Example:
    >>> examples = read_ljspeech("LJSpeech-1.1")
    >>> audio = load_audio(examples[0]["audio"], sample_rate=16000)
"""

import csv
import glob
import os

import numpy as np
import soundfile
import tensorflow as tf
from scipy.signal import resample_poly

from tasks.core import audio as audio_ops
from tasks.core.data import AUTOTUNE, text_lines, with_options
from tasks.speech import augment


def read_ljspeech(root, normalized=True):
    """``root/metadata.csv`` (``id|raw text|normalized text``) + ``root/wavs/<id>.wav``."""
    path = os.path.join(root, "metadata.csv")
    examples = []
    for lineno, line in text_lines(path, "LJSpeech metadata"):
        fields = line.split("|")
        if len(fields) not in (2, 3):
            raise ValueError(f"{path}:{lineno}: expected 'id|text' or 'id|text|normalized text'")
        text = fields[2] if normalized and len(fields) == 3 and fields[2] else fields[1]
        examples.append({"id": fields[0], "audio": os.path.join(root, "wavs", fields[0] + ".wav"),
                         "text": text, "speaker": None})
    return examples


def read_librispeech(root):
    """``root/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` + ``<id>.flac`` beside it."""
    files = sorted(glob.glob(os.path.join(root, "*", "*", "*.trans.txt")))
    if not files:
        raise ValueError(f"no */*/*.trans.txt under {root!r}; expected a LibriSpeech split directory")
    examples = []
    for path in files:
        folder = os.path.dirname(path)
        for lineno, line in text_lines(path):
            utt, _, text = line.strip().partition(" ")
            if not text:
                raise ValueError(f"{path}:{lineno}: expected '<utterance-id> <TRANSCRIPT>'")
            examples.append({"id": utt, "audio": os.path.join(folder, utt + ".flac"), "text": text,
                             "speaker": utt.split("-")[0]})
    return examples


def read_common_voice(tsv_path, clips_dir=None):
    """A Common Voice TSV manifest (``path``, ``sentence``, ``client_id`` columns)."""
    if not os.path.isfile(tsv_path):
        raise ValueError(f"{tsv_path!r} does not exist")
    clips_dir = clips_dir or os.path.join(os.path.dirname(tsv_path), "clips")
    with open(tsv_path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"path", "sentence"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{tsv_path!r} lacks the column(s) {sorted(missing)}")
        return [{"id": os.path.splitext(row["path"])[0], "audio": os.path.join(clips_dir, row["path"]),
                 "text": row["sentence"], "speaker": row.get("client_id")} for row in reader]


def load_audio(path, sample_rate=16000):
    """Any libsndfile-readable file -> float32 mono in [-1, 1] at ``sample_rate``."""
    if not os.path.isfile(path):
        raise ValueError(f"audio file {path!r} does not exist")
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise ValueError(f"{path!r} is not a readable audio file: {err}") from None
    audio = audio.mean(axis=1)
    if rate != sample_rate:
        g = np.gcd(int(rate), int(sample_rate))
        audio = resample_poly(audio, sample_rate // g, rate // g).astype(np.float32)
    return audio


def make_dataset(examples, sample_rate=16000, batch_size=16):
    """Examples -> tf.data of padded ``(audio [B, T], lengths [B], text [B])`` batches."""
    if not examples:
        raise ValueError("examples is empty")
    ds = tf.data.Dataset.from_tensor_slices(([e["audio"] for e in examples], [e["text"] for e in examples]))

    def load(path, text):
        audio = tf.numpy_function(lambda p: load_audio(p.decode(), sample_rate), [path], tf.float32)
        audio.set_shape([None])
        return audio, tf.shape(audio)[0], text

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _tf_readable(paths):
    """True when every file is a PCM-16 WAV, which ``tf.audio.decode_wav`` reads in-graph."""
    if not all(p.lower().endswith(".wav") for p in paths):
        return False
    return soundfile.info(paths[0]).subtype == "PCM_16"


def waveform_reader(paths, sample_rate=16000):
    """A function ``path -> float32 [T]`` at ``sample_rate``: TF ops for PCM WAV, else libsndfile."""
    if _tf_readable(paths):
        def read(path):
            audio, rate = audio_ops.decode_wav(tf.io.read_file(path))
            return audio_ops.resample(audio, rate, sample_rate)
        return read

    def read_any(path):
        audio = tf.numpy_function(lambda p: load_audio(p.decode(), sample_rate), [path], tf.float32)
        audio.set_shape([None])
        return audio
    return read_any


def make_training_dataset(examples, preprocessor, batch_size=32, training=False, seed=0,
                          augment_audio=True, repeat=False, labels="ids",
                          bucket_boundaries=(300, 450, 600, 800, 1100), max_frames=3000,
                          fixed_shapes=False, augment_probability=1.0, background=None):
    """Examples -> tf.data of ``({"features", "frames"}, labels)`` batches bucketed by length.

    ``labels="ids"`` gives padded character ids (0 = padding) for the CTC loss;
    ``labels="text"`` gives the normalised transcripts, for evaluation. With
    ``training`` the order is shuffled from ``seed`` and (with ``augment_audio``)
    every utterance goes through ``augment.random_augment`` with a stateless seed made
    of ``seed`` and its position in the stream (another utterance is mixed in as
    babble), so a run is reproducible and resumable; ``augment_probability`` < 1 lets that
    share of utterances through and the rest clean. ``background``: WAV paths of real
    recorded background sounds (``noise.noise_files``) that the augmentation mixes under a
    share of the utterances (drawn in an order of their own). Utterances whose transcript cannot
    fit the model's output frames (CTC needs at least one frame per character) are
    dropped, as are those over ``max_frames`` feature frames.

    ``fixed_shapes`` pads every batch to its bucket's upper boundary (features) and
    labels to the most characters that many frames can carry, so a run sees only
    ``len(bucket_boundaries) + 1`` shapes: what XLA needs to compile once per bucket
    instead of once per batch.
    """
    if not examples:
        raise ValueError("examples is empty")
    paths = [e["audio"] for e in examples]
    read = waveform_reader(paths, preprocessor.sample_rate)
    ds = tf.data.Dataset.from_tensor_slices((paths, [e["text"] for e in examples]))
    if training:
        ds = ds.shuffle(len(examples), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(lambda p, t: (read(p), t), num_parallel_calls=AUTOTUNE)
    if not 0.0 <= float(augment_probability) <= 1.0:
        raise ValueError(f"augment_probability={augment_probability!r}; expected 0..1")
    if training and augment_audio:
        others = tf.data.Dataset.from_tensor_slices(paths).shuffle(
            len(paths), seed=seed + 1, reshuffle_each_iteration=True).repeat()
        others = others.map(read, num_parallel_calls=AUTOTUNE)
        if background:
            background = [str(p) for p in background]
            backgrounds = tf.data.Dataset.from_tensor_slices(background).shuffle(
                len(background), seed=seed + 2, reshuffle_each_iteration=True).repeat()
            backgrounds = backgrounds.map(waveform_reader(background, preprocessor.sample_rate),
                                          num_parallel_calls=AUTOTUNE)
        else:  # an empty background is never mixed in
            backgrounds = tf.data.Dataset.from_tensors(tf.zeros([0], tf.float32)).repeat()

        def augmented(i, pair):
            (audio, text), babble, noise = pair
            key = tf.stack([tf.cast(seed, tf.int64), i])
            noise = noise if background else None
            if augment_probability >= 1.0:  # the recipe as it always was: same random streams
                return augment.random_augment(audio, key, babble, preprocessor.sample_rate,
                                              noise), text
            clean = tf.random.stateless_uniform([], key + [1_000_003, 0]) >= augment_probability
            return tf.cond(clean, lambda: audio, lambda: augment.random_augment(
                audio, key, babble, preprocessor.sample_rate, noise)), text

        ds = tf.data.Dataset.zip(ds, others, backgrounds).enumerate().map(
            augmented, num_parallel_calls=AUTOTUNE)

    def featurize(audio, text):
        features, frames = preprocessor(audio[None], tf.shape(audio)[:1])
        ids, count = preprocessor.text_to_ids(text[None])
        target = ids[0] if labels == "ids" else preprocessor.normalize(text)
        return {"features": features[0], "frames": frames[0]}, target, count[0]

    ds = ds.map(featurize, num_parallel_calls=AUTOTUNE)
    if labels == "ids":
        ds = ds.filter(lambda x, y, n: (n > 0) & (n <= (x["frames"] + 3) // 4)
                       & (x["frames"] <= max_frames))
    ds = ds.map(lambda x, y, n: (x, y))
    boundaries = list(bucket_boundaries)
    if fixed_shapes:
        # bucket_by_sequence_length pads to boundary - 1, so the last boundary sits
        # one past the longest utterance kept.
        boundaries = [b for b in boundaries if b <= max_frames] + [max_frames + 1]
    ds = ds.bucket_by_sequence_length(
        lambda x, y: x["frames"], boundaries, [batch_size] * (len(boundaries) + 1),
        padded_shapes=({"features": [None, preprocessor.n_mels], "frames": []},
                       [None] if labels == "ids" else []),
        pad_to_bucket_boundary=fixed_shapes)
    if fixed_shapes and labels == "ids":
        def pad_labels(x, y):
            # pad_to_bucket_boundary pads the labels to the frame boundary too; the
            # filter above guarantees every label fits in the model's output frames.
            width = (tf.shape(x["features"])[1] + 3) // 4
            return x, y[:, :width]
        ds = ds.map(pad_labels)
    return with_options(ds.prefetch(AUTOTUNE))
