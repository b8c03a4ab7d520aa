"""The speech preprocessor: audio -> log-mel features, transcripts -> character ids, ids -> text.

One Keras layer of core TF ops, used by tf.data (``training_batch``), by Python
inference and inside the exported SavedModel (WAV bytes in), so the three agree.

``features="whisper"`` computes Whisper's log-mel front end (``whisper.log_mel``) for
models built on its pretrained encoder; the default is this library's own per-utterance
normalised log-mel (``tasks.core.audio.log_mel``).

Id 0 is the CTC blank (``keras.ops.ctc_loss`` with ``mask_index=0``); label padding is
also 0 and is never read as a label, because the loss takes each label's true length.

Example:
    >>> pre = SpeechPreprocessor()
    >>> feats, frames = pre(audio, lengths)            # float waveforms at 16 kHz
    >>> feats, frames = pre.from_wav_bytes(wav_bytes)  # any PCM WAV rate, stereo or mono
    >>> pre.ids_to_text(pre.text_to_ids(["hello world"]))
"""

import re

import keras
import tensorflow as tf

from tasks.core import audio as audio_ops

DEFAULT_ALPHABET = " 'abcdefghijklmnopqrstuvwxyz"
FEATURES = ("log_mel", "whisper")


def normalize_transcript(text, alphabet=DEFAULT_ALPHABET):
    """Python reference normalisation: lower-case, out-of-alphabet characters become spaces."""
    allowed = re.escape("".join(sorted(set(alphabet) - {" "})))
    text = re.sub(f"[^{allowed}]", " ", text.lower())
    return re.sub(r" +", " ", text).strip()


@keras.saving.register_keras_serializable(package="tasks")
class SpeechPreprocessor(keras.layers.Layer):
    """Waveforms or WAV bytes -> normalised log-mel features; text <-> character ids."""

    def __init__(self, alphabet=DEFAULT_ALPHABET, n_mels=80, sample_rate=audio_ops.SAMPLE_RATE,
                 silence_db=-60.0, features="log_mel", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if len(set(alphabet)) != len(alphabet) or " " not in alphabet:
            raise ValueError(f"alphabet must hold distinct characters including ' ', got {alphabet!r}")
        self.alphabet = alphabet
        if features not in FEATURES:
            raise ValueError(f"features={features!r}; expected one of {FEATURES}")
        if features == "whisper" and (int(n_mels), int(sample_rate)) != (80, 16000):
            raise ValueError(f"features='whisper' takes n_mels=80 and sample_rate=16000, got "
                             f"n_mels={n_mels}, sample_rate={sample_rate}")
        self.features = features
        self.n_mels = int(n_mels)
        self.sample_rate = int(sample_rate)
        self.silence_db = None if silence_db is None else float(silence_db)
        self._lookup = keras.layers.StringLookup(vocabulary=list(alphabet), num_oov_indices=1,
                                                 mask_token=None, name="chars")
        self._chars = tf.constant([""] + list(alphabet))
        allowed = re.escape("".join(sorted(set(alphabet) - {" "})))
        self._drop = f"[^{allowed}]"
        self._whisper_filters = None
        if features == "whisper":
            from tasks.speech import whisper

            self._whisper_filters = whisper.mel_filters()
        self.built = True  # no weights of its own; tables are built eagerly

    @property
    def vocabulary_size(self):
        """Characters + the blank."""
        return len(self.alphabet) + 1

    # -- audio --------------------------------------------------------------------------
    def call(self, audio, lengths):
        """Float waveforms ``[B, T]`` at ``sample_rate`` + lengths -> (features, frames).

        A recording whose peak stays under ``silence_db`` dBFS has 0 frames: the model
        then emits only blanks, so silence transcribes to "".
        """
        peak = None if self.silence_db is None else 10.0 ** (self.silence_db / 20.0)
        if self.features == "log_mel":
            return audio_ops.log_mel(audio, lengths, self.n_mels, self.sample_rate,
                                     silence_peak=peak)
        from tasks.speech import whisper

        audio = tf.convert_to_tensor(audio, tf.float32)
        lengths = tf.cast(lengths, tf.int32)
        features, frames = whisper.log_mel(audio, lengths, self._whisper_filters)
        if peak is not None:
            frames = audio_ops.silence_to_no_frames(audio, lengths, frames, peak)
        return features, frames

    def decode_wav_batch(self, wavs):
        """``tf.string [B]`` of PCM WAV files -> (padded waveforms at ``sample_rate``, lengths)."""

        def one(data):
            audio, rate = audio_ops.decode_wav(data)
            return audio_ops.resample(audio, rate, self.sample_rate)

        ragged = tf.map_fn(one, tf.convert_to_tensor(wavs, tf.string),
                           fn_output_signature=tf.RaggedTensorSpec([None], tf.float32, 0))
        return ragged.to_tensor(), tf.cast(ragged.row_lengths(), tf.int32)

    def from_wav_bytes(self, wavs):
        return self(*self.decode_wav_batch(wavs))

    # -- text ---------------------------------------------------------------------------
    def normalize(self, texts):
        """The TF twin of :func:`normalize_transcript`."""
        texts = tf.strings.lower(tf.convert_to_tensor(texts, tf.string), encoding="utf-8")
        texts = tf.strings.regex_replace(texts, self._drop, " ")
        return tf.strings.strip(tf.strings.regex_replace(texts, " +", " "))

    def text_to_ids(self, texts):
        """Strings ``[B]`` -> (ids ``[B, L]`` padded with 0, lengths ``[B]``)."""
        chars = tf.strings.unicode_split(self.normalize(texts), "UTF-8")
        ids = tf.cast(self._lookup(chars), tf.int32)
        return ids.to_tensor(0), tf.cast(ids.row_lengths(), tf.int32)

    def ids_to_text(self, ids):
        """Ids ``[B, L]`` (0 or negative = nothing) -> strings ``[B]``."""
        ids = tf.convert_to_tensor(ids, tf.int32)
        chars = tf.gather(self._chars, tf.maximum(ids, 0))
        text = tf.strings.reduce_join(chars, axis=-1)
        return tf.strings.strip(tf.strings.regex_replace(text, " +", " "))

    def get_config(self):
        return {**super().get_config(), "alphabet": self.alphabet, "n_mels": self.n_mels,
                "sample_rate": self.sample_rate, "silence_db": self.silence_db,
                "features": self.features}
