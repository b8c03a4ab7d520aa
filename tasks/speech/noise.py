"""Real recorded background sounds for training: music and speech in other languages.

Users record next to a radio, a television or another conversation. The registries' real
recordings of that kind are the Asterisk PBX's: its music on hold (Debian
``asterisk-moh-opsound-g722``, five tracks, 18.5 minutes, CC BY-SA 3.0) and its French and
Russian prompts (``asterisk-core-sounds-fr-g722``, CC BY-SA 3.0, and ``-ru-g722``, CC BY
3.0; one female speaker each), all 16 kHz G.722. Speech in a language the
model never transcribes is the background voice it must learn to leave out. The bank is
cut into ``SEGMENT_SECONDS`` WAV pieces; ``augment.add_background`` mixes one under an
utterance at a random level.

Example:
    >>> from tasks.core.debian import fetch_package
    >>> trees = [fetch_package(n, v, "data/cache")[0] for n, v in NOISE_PACKAGES]  # doctest: +SKIP
    >>> rows = write_noise_bank("data/speech_en/noise", trees)  # doctest: +SKIP
"""

import glob
import os

import numpy as np
import soundfile

from tasks.core.debian import find_in_trees
from tasks.speech.recordings import G722_RATE, read_g722

NOISE_PACKAGES = (("asterisk-moh-opsound-g722", "2.03-1.1"),
                  ("asterisk-core-sounds-fr-g722", "1.6.1-1"),
                  ("asterisk-core-sounds-ru-g722", "1.6.1-1"))
# kind -> where its recordings lie in the unpacked packages
NOISE_SOURCES = {"music": "usr/share/asterisk/moh/*.g722",
                 "speech-fr": "usr/share/asterisk/sounds/fr_*/**/*.g722",
                 "speech-ru": "usr/share/asterisk/sounds/ru_*/**/*.g722"}
SEGMENT_SECONDS = 10.0


def noise_sources(trees):
    """{kind: sorted .g722 paths} from the unpacked ``NOISE_PACKAGES``; a clear error
    names the package whose files are missing."""
    found = {}
    for (kind, pattern), (package, _) in zip(NOISE_SOURCES.items(), NOISE_PACKAGES):
        paths = find_in_trees(trees, pattern)
        if not paths:
            raise ValueError(f"no {kind} recordings ({pattern!r}) in {[str(t) for t in trees]}: "
                             f"expected the unpacked {package}")
        found[kind] = paths
    return found


def _segments(paths, length):
    """The recordings one after another, cut into pieces of ``length`` samples (the last,
    shorter piece is dropped; a piece may span two recordings, as a radio runs on)."""
    buffer, pieces = np.zeros(0, np.float32), []
    for path in paths:
        if os.path.getsize(path) == 0:  # the Russian set ships one empty prompt (is.g722)
            continue
        buffer = np.concatenate([buffer, read_g722(path)])
        while len(buffer) >= length:
            pieces.append(buffer[:length])
            buffer = buffer[length:]
    return pieces


def write_noise_bank(folder, trees, seconds=SEGMENT_SECONDS):
    """Write the bank as 16 kHz WAV pieces ``<kind>_<n>.wav`` under ``folder`` (pieces already
    there with the right length are kept); returns [(file name, kind)]."""
    if seconds <= 0:
        raise ValueError(f"seconds={seconds!r}; expected a positive length")
    os.makedirs(folder, exist_ok=True)
    length = int(round(seconds * G722_RATE))
    rows = []
    for kind, paths in noise_sources(trees).items():
        for n, piece in enumerate(_segments(paths, length)):
            name = f"{kind}_{n:04d}.wav"
            path = os.path.join(folder, name)
            if not (os.path.exists(path) and soundfile.info(path).frames == length):
                soundfile.write(path + ".tmp.wav", piece, G722_RATE, subtype="PCM_16")
                os.replace(path + ".tmp.wav", path)
            rows.append((name, kind))
    return rows


def noise_files(data_dir):
    """The bank's WAV paths in a built corpus (``<data_dir>/noise``), or [] where it has none."""
    return sorted(glob.glob(os.path.join(str(data_dir), "noise", "*.wav")))
