"""Audio augmentation building blocks in TensorFlow ops (for a tf.data stage).

Each function takes a float32 waveform ``[T]`` (mono, -1..1) and an explicit stateless
seed where it is random, so an augmented pipeline is reproducible.

Example:
    >>> noisy = add_noise(speech, noise, snr_db=10.0)
    >>> slower = speed_perturb(speech, 0.9)
    >>> wet = reverberate(speech, synthetic_rir(16000, rt60=0.4, seed=[1, 2]))
"""

import math

import tensorflow as tf


def gain(audio, db):
    """Scale by ``db`` decibels."""
    return audio * tf.pow(10.0, tf.cast(db, tf.float32) / 20.0)


def random_gain(audio, seed, min_db=-6.0, max_db=6.0):
    """Gain drawn uniformly in [min_db, max_db] from a stateless seed."""
    return gain(audio, tf.random.stateless_uniform([], seed, min_db, max_db))


def power(x):
    return tf.reduce_mean(tf.square(x))


def add_noise(audio, noise, snr_db):
    """Add ``noise`` (tiled or cut to length) scaled to the requested signal-to-noise ratio."""
    length = tf.shape(audio)[0]
    reps = length // tf.shape(noise)[0] + 1
    noise = tf.tile(noise, [reps])[:length]
    scale = tf.sqrt(power(audio) / (power(noise) * tf.pow(10.0, tf.cast(snr_db, tf.float32) / 10.0) + 1e-12))
    return audio + scale * noise


def speed_perturb(audio, factor):
    """Play ``factor`` times faster (tempo and pitch, like ``sox speed``), by interpolation."""
    factor = tf.cast(factor, tf.float32)
    length = tf.cast(tf.shape(audio)[0], tf.float32)
    new_length = tf.cast(tf.math.floor((length - 1) / factor) + 1, tf.int32)
    positions = tf.cast(tf.range(new_length), tf.float32) * factor
    left = tf.cast(tf.floor(positions), tf.int32)
    right = tf.minimum(left + 1, tf.shape(audio)[0] - 1)
    frac = positions - tf.floor(positions)
    return tf.gather(audio, left) * (1 - frac) + tf.gather(audio, right) * frac


def synthetic_rir(sample_rate, rt60, seed, length_s=None):
    """An exponentially decaying noise impulse response with reverberation time ``rt60``.

    Energy falls by 60 dB after ``rt60`` seconds; a unit direct path comes first.
    """
    length_s = length_s or 1.2 * rt60
    n = int(sample_rate * length_s)
    t = tf.range(n, dtype=tf.float32) / sample_rate
    decay = tf.exp(-3.0 * math.log(10.0) * t / rt60)  # amplitude: -60 dB energy at rt60
    tail = tf.random.stateless_normal([n], seed) * decay * 0.3
    return tf.concat([[1.0], tail[1:]], 0)


def reverberate(audio, rir):
    """Convolve with an impulse response (FFT), keep the input length and peak level."""
    length = tf.shape(audio)[0]
    size = length + tf.shape(rir)[0] - 1
    fft_len = tf.cast(2 ** tf.math.ceil(tf.math.log(tf.cast(size, tf.float32)) / math.log(2.0)), tf.int32)
    wet = tf.signal.irfft(tf.signal.rfft(audio, [fft_len]) * tf.signal.rfft(rir, [fft_len]), [fft_len])
    wet = wet[:length]
    peak_in = tf.reduce_max(tf.abs(audio))
    return wet * peak_in / (tf.reduce_max(tf.abs(wet)) + 1e-12)
