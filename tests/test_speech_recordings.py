"""The human recordings in the corpus's training split: Asterisk's English prompts.

One test reads the real Debian packages (about 10.5 MB): the transcripts' format and the
G.722 decoding are what a stand-in could get wrong.
"""

import numpy as np
import pytest

from tasks.speech.recordings import ASTERISK_PACKAGES, asterisk_prompts, read_g722, spoken_text


@pytest.mark.parametrize("transcript,spoken", [
    ("Please enter your password followed by the pound key.",
     "please enter your password followed by the pound key"),
    ("press * to toggle pause, press # to enter a new dictation filename",
     "press star to toggle pause press pound to enter a new dictation filename"),
    ("at [@]", "at"),
    ("Press 1 for sales.", "press one for sales"),
    ("[ascending tones]", None),
    ("<beep ascending>", None),
    ("For more information, visit www.asterisk.org.", None),
])
def test_transcripts_become_the_words_said(transcript, spoken):
    assert spoken_text(transcript) == spoken


def test_missing_packages_are_named(tmp_path):
    with pytest.raises(ValueError, match="asterisk-core-sounds-en"):
        asterisk_prompts([tmp_path])


def test_non_g722_bytes_are_refused(tmp_path):
    path = tmp_path / "noise.g722"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="no G.722 audio"):
        read_g722(str(path))


@pytest.fixture(scope="module")
def asterisk_trees(tmp_path_factory):
    from tasks.core.debian import fetch_package

    cache = str(tmp_path_factory.mktemp("asterisk"))
    return [fetch_package(name, version, cache)[0] for name, version in ASTERISK_PACKAGES]


def test_the_real_prompts_decode_at_16_khz_with_their_text(asterisk_trees):
    prompts = asterisk_prompts(asterisk_trees)
    texts = {name: text for name, text, _ in prompts}
    assert 540 <= len(prompts) <= 570, len(prompts)  # 557 of the 569 listed (measured)
    assert texts["digits/1"] == "one" and texts["auth-thankyou"] == "thank you"
    assert "beep" not in texts and "ascending-2tone" not in texts
    # seconds per word of human reading: each prompt's length must fit its text (a
    # shifted listing or a wrong sample rate would not)
    for name in ("agent-pass", "all-circuits-busy-now", "digits/1", "cannot-complete-as-dialed"):
        audio = read_g722(dict((n, p) for n, _, p in prompts)[name])
        seconds, words = len(audio) / 16000, len(texts[name].split())
        assert audio.dtype == np.float32 and 0.05 < np.abs(audio).max() <= 1.0
        assert 0.2 < seconds / words < 1.5, (name, seconds, words)
