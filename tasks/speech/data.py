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

from tasks.core.data import text_lines


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
