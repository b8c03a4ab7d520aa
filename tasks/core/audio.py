"""Audio decoding, resampling and log-mel features in core TensorFlow ops.

Everything here runs inside ``tf.data``, in Python inference and inside an exported
SavedModel alike (no tensorflow-text, no PyFunc), so a served model hears exactly
what the training pipeline heard.

Example:
    >>> audio, rate = decode_wav(tf.io.read_file("speech.wav"))
    >>> audio = resample(audio, rate, 16000)
    >>> feats, frames = log_mel(audio[None], tf.shape(audio)[:1])
"""

import numpy as np
import tensorflow as tf

SAMPLE_RATE = 16000


def decode_wav(data):
    """WAV bytes (PCM) -> (mono float32 ``[T]`` in -1..1, sample rate int32 scalar)."""
    audio, rate = tf.audio.decode_wav(data)
    return tf.reduce_mean(audio, axis=1), rate


def resample(audio, rate, target=SAMPLE_RATE):
    """Band-limited resampling of a 1-D waveform by FFT (the method of ``scipy.signal.resample``).

    ``rate`` may be a tensor (read from a WAV header inside a graph); equal rates return
    the input unchanged. The output has ``round(len * target / rate)`` samples.
    """
    audio = tf.convert_to_tensor(audio, tf.float32)
    rate = tf.cast(rate, tf.int64)
    length = tf.shape(audio, out_type=tf.int64)[0]
    new_length = tf.maximum((length * target + rate // 2) // rate, 1)

    def convert():
        spectrum = tf.signal.rfft(audio)
        keep = tf.minimum(length, new_length) // 2 + 1
        spectrum = tf.pad(spectrum[:keep], [[0, new_length // 2 + 1 - keep]])
        scale = tf.cast(new_length, tf.float32) / tf.cast(length, tf.float32)
        return tf.signal.irfft(spectrum, tf.cast(new_length, tf.int32)[None]) * scale

    return tf.cond((rate == target) | (length == 0), lambda: audio, convert)


def num_frames(lengths, frame_length=400, frame_step=160):
    """Feature frames for waveforms of ``lengths`` samples (no end padding)."""
    lengths = tf.cast(lengths, tf.int32)
    return tf.maximum((lengths - frame_length) // frame_step + 1, 0)


def silence_to_no_frames(audio, lengths, frames, silence_peak):
    """``frames`` with 0 for each row of ``audio`` whose peak over its ``lengths`` samples is
    below ``silence_peak``: the network then sees nothing, and silence transcribes to ""."""
    samples = tf.sequence_mask(lengths, tf.shape(audio)[1], tf.float32)
    peak = tf.reduce_max(tf.abs(audio) * samples, axis=1)
    return tf.where(peak < silence_peak, 0, frames)


def log_mel(audio, lengths, n_mels=80, sample_rate=SAMPLE_RATE, frame_length=400, frame_step=160,
            fft_length=512, normalize=True, silence_peak=None):
    """Padded waveforms ``[B, T]`` + lengths ``[B]`` -> (features ``[B, F, n_mels]``, frames ``[B]``).

    25 ms Hann windows every 10 ms, power spectrum, mel filterbank, log. With
    ``normalize`` each utterance is scaled to zero mean / unit variance per mel band over
    its own valid frames; frames past an utterance's end are zero, so padding a batch
    never changes the features of any utterance in it. With ``silence_peak``, an
    utterance whose peak amplitude is below it gets zero valid frames (all features 0):
    silence is decided here, once, for every path that computes features.
    """
    audio = tf.convert_to_tensor(audio, tf.float32)
    # Short clips still get one frame (of zeros past their end) instead of none.
    audio = tf.pad(audio, [[0, 0], [0, tf.maximum(frame_length - tf.shape(audio)[1], 0)]])
    stft = tf.signal.stft(audio, frame_length, frame_step, fft_length, pad_end=False)
    mel = tf.signal.linear_to_mel_weight_matrix(n_mels, fft_length // 2 + 1, sample_rate, 20.0,
                                                sample_rate / 2)
    features = tf.math.log(tf.tensordot(tf.square(tf.abs(stft)), mel, 1) + 1e-6)
    frames = tf.maximum(num_frames(lengths, frame_length, frame_step), 1)
    if silence_peak is not None:
        frames = silence_to_no_frames(audio, lengths, frames, silence_peak)
    mask = tf.sequence_mask(frames, tf.shape(features)[1], tf.float32)[..., None]
    if normalize:
        count = tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1.0)
        mean = tf.reduce_sum(features * mask, axis=1, keepdims=True) / count
        var = tf.reduce_sum(tf.square(features - mean) * mask, axis=1, keepdims=True) / count
        features = (features - mean) * tf.math.rsqrt(var + 1e-5)
    return features * mask, frames


def pad_batch(waveforms):
    """A list of 1-D float arrays -> (padded ``[B, T]`` float32, lengths ``[B]`` int32) numpy."""
    lengths = np.array([len(w) for w in waveforms], np.int32)
    batch = np.zeros((len(waveforms), max(lengths.max(initial=0), 1)), np.float32)
    for row, wave in zip(batch, waveforms):
        row[: len(wave)] = wave
    return batch, lengths
