"""Transcribed human recordings shipped in Debian packages, as training data.

The Asterisk PBX's English core sounds (``asterisk-core-sounds-en-g722``, CC BY-SA 3.0) are
about 550 prompts, digits, letters and words recorded by one professional speaker (Allison
Smith) at 16 kHz in G.722; ``asterisk-core-sounds-en`` has their text in
``core-sounds-en.txt``. They are the only human English speech with transcripts found in
the registries besides ``pocketsphinx-testdata`` (the ``real`` split, which is never trained
on): phone-menu sentences read by a real voice, which no synthesiser in the corpus is.

Example:
    >>> from tasks.core.debian import fetch_package
    >>> trees = [fetch_package(n, v, "data/cache")[0] for n, v in ASTERISK_PACKAGES]  # doctest: +SKIP
    >>> prompts = asterisk_prompts(trees)  # doctest: +SKIP
    >>> name, text, path = prompts[0]; audio = read_g722(path)  # doctest: +SKIP
"""

import gzip
import os
import re

import numpy as np

from tasks.core.debian import find_in_trees
from tasks.speech.normalize import normalize_for_speech

ASTERISK_PACKAGES = (("asterisk-core-sounds-en", "1.6.1-1"), ("asterisk-core-sounds-en-g722", "1.6.1-1"))
ASTERISK_SPEAKER = "en_US_f_Allison"
G722_RATE = 16000
# the prompts spell the phone keys as symbols; the speaker says their names
_KEYS = {"*": " star ", "#": " pound "}
# "[ascending tones]", "<beep ascending>", "at [@]": sounds or the symbol, not words spoken
_NOT_SPOKEN = re.compile(r"\[[^\]]*\]|<[^>]*>")


def _find_one(trees, pattern):
    found = find_in_trees(trees, pattern)
    if found:
        return found[0]
    raise ValueError(f"no {pattern!r} in the unpacked packages {[str(t) for t in trees]}: "
                     f"expected {' and '.join(n for n, _ in ASTERISK_PACKAGES)}")


def spoken_text(transcript):
    """A prompt's transcript as the words said, or None where it is a sound or not sayable.

    Example:
        >>> spoken_text("Press # to exit, * for help.")
        'press pound to exit star for help'
        >>> spoken_text("[ascending tones]") is None
        True
    """
    text = _NOT_SPOKEN.sub(" ", transcript)
    for key, name in _KEYS.items():
        text = text.replace(key, name)
    return normalize_for_speech(text) if text.strip() else None


def asterisk_prompts(trees):
    """[(name, spoken text, path of the .g722 file)] of every prompt that has both a
    recording and a sayable transcript, sorted by name. ``trees``: the unpacked
    ``ASTERISK_PACKAGES``."""
    listing = _find_one(trees, "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt*")
    sounds = os.path.dirname(_find_one(trees, f"usr/share/asterisk/sounds/{ASTERISK_SPEAKER}/*.g722"))
    opener = gzip.open if listing.endswith(".gz") else open
    prompts = {}
    with opener(listing, "rt", encoding="utf-8") as f:
        for line in f:
            match = re.match(r"^([^;\s:][^:]*):\s*(.*\S)\s*$", line)
            if not match:
                continue  # comments (";"), blank lines
            name, transcript = match.groups()
            path = os.path.join(sounds, name + ".g722")
            text = spoken_text(transcript)
            if text and os.path.isfile(path):
                prompts[name] = (name, text, path)
    return [prompts[k] for k in sorted(prompts)]


def read_g722(path):
    """A raw G.722 file (16 kHz) -> float32 mono waveform in [-1, 1], decoded with PyAV."""
    import av

    with av.open(path, format="g722") as container:
        rate = container.streams.audio[0].rate
        if rate != G722_RATE:
            raise ValueError(f"{path!r}: G.722 at {rate} Hz, expected {G722_RATE}")
        frames = [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
    if not frames:
        raise ValueError(f"{path!r} holds no G.722 audio")
    audio = np.concatenate(frames)
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    return audio.astype(np.float32)
