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


def add_background(audio, noise, snr_db, seed):
    """Mix a real recorded background (a piece of ``noise.py``'s bank) under ``audio`` at
    ``snr_db``, from a random point of the piece (stateless ``seed``), looped to length."""
    n = tf.shape(noise)[0]
    start = tf.random.stateless_uniform([], seed, 0, tf.maximum(n, 1), dtype=tf.int32)
    return add_noise(audio, tf.roll(noise, -start, 0), snr_db)


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


def coloured_noise(length, seed, exponent):
    """Noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit variance."""
    white = tf.random.stateless_normal([length], seed)
    spectrum = tf.signal.rfft(white)
    freqs = tf.cast(tf.range(tf.shape(spectrum)[0]), tf.float32) + 1.0
    shaped = tf.signal.irfft(spectrum * tf.cast(tf.pow(freqs, -exponent / 2.0), tf.complex64),
                             [length])
    return shaped * tf.math.rsqrt(power(shaped) + 1e-12)


def mu_law(audio, mu=255):
    """G.711 μ-law coding: compand, quantise to 8 bits, expand."""
    audio = tf.clip_by_value(audio, -1.0, 1.0)
    encoded = tf.sign(audio) * tf.math.log1p(mu * tf.abs(audio)) / math.log1p(mu)
    quantised = tf.round((encoded + 1.0) / 2.0 * mu) / mu * 2.0 - 1.0
    return tf.sign(quantised) * (tf.pow(1.0 + mu, tf.abs(quantised)) - 1.0) / mu


def telephone(audio, sample_rate=16000, coded=True):
    """Telephone channel: band-limit to 8 kHz sampling (300-3400 Hz band) and optionally μ-law."""
    from tasks.core.audio import resample

    narrow = resample(audio, sample_rate, 8000)
    spectrum = tf.signal.rfft(narrow)
    n = tf.shape(narrow)[0]
    hz = tf.cast(tf.range(tf.shape(spectrum)[0]), tf.float32) * 8000.0 / tf.cast(tf.maximum(n, 1), tf.float32)
    band = tf.cast((hz >= 300.0) & (hz <= 3400.0), tf.complex64)
    narrow = tf.signal.irfft(spectrum * band, [n])
    if coded:
        narrow = mu_law(narrow / (tf.reduce_max(tf.abs(narrow)) + 1e-9)) * tf.reduce_max(tf.abs(narrow))
    out = resample(narrow, 8000, sample_rate)
    return tf.pad(out, [[0, tf.maximum(tf.shape(audio)[0] - tf.shape(out)[0], 0)]])[: tf.shape(audio)[0]]


def clip(audio, drive_db):
    """An overdriven microphone: amplify by ``drive_db`` then hard-clip at full scale."""
    peak = tf.reduce_max(tf.abs(audio)) + 1e-9
    return tf.clip_by_value(gain(audio / peak, drive_db), -1.0, 1.0)


def _chance(seed, p):
    return tf.random.stateless_uniform([], seed) < p


def _uniform(seed, low, high):
    return tf.random.stateless_uniform([], seed, low, high)


def random_augment(audio, seed, babble=None, sample_rate=16000, background=None):
    """The training recipe: each stage applied with its own probability from a stateless seed.

    Speed (0.9-1.1), reverberation (RT60 0.15-0.8 s), babble (another utterance 5-20 dB
    under), a real recorded ``background`` where given (music or other-language speech,
    5-25 dB under, a quarter of the time), coloured noise (white/pink/brown, 0-30 dB SNR),
    telephone band with μ-law, clipping, and gain (-30..+6 dB, so quiet microphones are
    seen too).
    """
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 16)
    s = lambda i: seeds[i]  # noqa: E731
    audio = tf.cond(_chance(s(0), 0.5), lambda: speed_perturb(audio, _uniform(s(1), 0.9, 1.1)),
                    lambda: audio)
    audio = tf.cond(_chance(s(2), 0.3),
                    lambda: reverberate(audio, _random_rir(s(3), sample_rate)), lambda: audio)
    if babble is not None:
        audio = tf.cond(_chance(s(4), 0.2) & (tf.shape(babble)[0] > 0),
                        lambda: add_noise(audio, babble, _uniform(s(5), 5.0, 20.0)), lambda: audio)
    if background is not None:  # seeds of their own: without a background the recipe is as it was
        b = tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 1), 3)
        audio = tf.cond(_chance(b[0], 0.25) & (tf.shape(background)[0] > 0),
                        lambda: add_background(audio, background, _uniform(b[1], 5.0, 25.0), b[2]),
                        lambda: audio)
    audio = tf.cond(_chance(s(6), 0.5), lambda: add_noise(
        audio, coloured_noise(tf.shape(audio)[0], s(7), _uniform(s(8), 0.0, 2.0)),
        _uniform(s(9), 0.0, 30.0)), lambda: audio)
    audio = tf.cond(_chance(s(10), 0.15), lambda: telephone(audio, sample_rate, _chance(s(11), 0.5)),
                    lambda: audio)
    audio = tf.cond(_chance(s(12), 0.1), lambda: clip(audio, _uniform(s(13), 3.0, 20.0)),
                    lambda: audio)
    return tf.cond(_chance(s(14), 0.5), lambda: gain(audio, _uniform(s(15), -30.0, 6.0)),
                   lambda: audio)


def _random_rir(seed, sample_rate):
    rt60 = tf.random.stateless_uniform([], seed, 0.15, 0.8)
    n = int(sample_rate * 0.96)  # fixed length (1.2 x the longest RT60) keeps shapes static
    t = tf.range(n, dtype=tf.float32) / sample_rate
    decay = tf.exp(-3.0 * math.log(10.0) * t / rt60)
    tail = tf.random.stateless_normal([n], seed + 1) * decay * 0.3
    return tf.concat([[1.0], tail[1:]], 0)
