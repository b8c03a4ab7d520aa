"""The word n-gram language model for CTC beam search (tasks/speech/language_model.py):
the estimate is a proper distribution, KenLM reads it as written, and the lexicon search
turns a misspelled alignment into real words."""

import math

import numpy as np
import pytest

from tasks.speech.language_model import BOS, WordDecoder, arpa_words, estimate, write_arpa

ALPHABET = " 'abcdefghijklmnopqrstuvwxyz"
IDS = {c: i + 1 for i, c in enumerate(ALPHABET)}
WORDS = "turn the light on off radio it please now open close door window".split()


def _sentences(count=300, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, rng.integers(2, 8))) for _ in range(count)]


def _prob(logp, backoff, word, history):
    n = len(history)
    if history + (word,) in logp[n]:
        return 10 ** logp[n][history + (word,)]
    return 0.0 if n == 0 else 10 ** backoff[n - 1].get(history, 0.0) * _prob(logp, backoff, word, history[1:])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_gets_a_distribution_that_sums_to_one(order):
    logp, backoff = estimate(_sentences(), order)
    vocab = [g[0] for g in logp[0] if g[0] != BOS]
    assert "<unk>" in vocab and "</s>" in vocab
    for history in [(), ("turn",), (BOS,), ("door", "door"), (BOS, "open"), ("the", "light", "on")]:
        history = history[-(order - 1):] if order > 1 else ()
        total = sum(_prob(logp, backoff, w, history) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-9), (history, total)


def test_kenlm_reads_the_arpa_file_as_written(tmp_path):
    from flashlight.lib.text.decoder import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    sentences = _sentences()
    path = write_arpa(sentences, str(tmp_path / "lm.arpa"), order=3)
    logp, backoff = estimate(sentences, 3)
    assert sorted(arpa_words(path)) == sorted(set(" ".join(sentences).split()))
    words = Dictionary()
    for w in arpa_words(path):
        words.add_entry(w)
    lm = KenLM(path, words)
    state = lm.start(False)
    history = (BOS,)
    for word in ["turn", "the", "door", "please"]:
        state, score = lm.score(state, words.get_index(word))
        assert score == pytest.approx(math.log10(_prob(logp, backoff, word, history)), abs=1e-5)
        history = (history + (word,))[-2:]


def _emissions(text):
    frames = [k for ch in text for k in (IDS[ch], IDS[ch], 0)]
    logits = np.full((len(frames), len(ALPHABET) + 1), -8.0, np.float32)
    logits[np.arange(len(frames)), frames] = 0.0
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


def test_the_lexicon_search_spells_real_words_and_respects_lengths(tmp_path):
    path = write_arpa(_sentences(), str(tmp_path / "lm.arpa"), order=3)
    decoder = WordDecoder(path, ALPHABET, lm_weight=1.0, beam_size=20)
    assert decoder.decode(_emissions("turn the ligt on")[None]) == ["turn the light on"]
    clip = _emissions("open the door now")
    both = decoder.decode(np.stack([clip, clip]), [len(clip), len(clip) - 9])
    assert both == ["open the door now", "open the door"]
    assert decoder.decode(clip[None], [0]) == [""]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="order"):
        estimate(["a b"], 0)
    with pytest.raises(ValueError, match="sentences"):
        estimate(["", "  "], 2)
    with pytest.raises(ValueError, match="arpa_path"):
        WordDecoder(str(tmp_path / "missing.arpa"))
    decoder = WordDecoder(write_arpa(["a b c"], str(tmp_path / "lm.arpa"), 2), ALPHABET)
    with pytest.raises(ValueError, match="log_probs"):
        decoder.decode(np.zeros([1, 5, 7], np.float32))
