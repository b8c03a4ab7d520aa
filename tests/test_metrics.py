import pytest

from tasks.core.metrics import cider_d, corpus_bleu, exact_match


def test_bleu_perfect_and_zero():
    refs = [["a small red dog", "there is a small red dog"], ["two blue cars in the scene"]]
    assert corpus_bleu(["a small red dog", "two blue cars in the scene"], refs) == pytest.approx(100.0)
    assert corpus_bleu(["zebra zebra", "xylophone"], refs) < 1.0


def test_bleu_accepts_ragged_reference_lists():
    refs = [["a small red dog"], ["a b c d e", "a b c d f", "a b c d g"]]
    assert corpus_bleu(["a small red dog", "a b c d g"], refs) == pytest.approx(100.0)


def test_exact_match_standardises_case_and_punctuation():
    assert exact_match(["A red dog."], [["a red dog"]]) == 100.0
    assert exact_match(["a red dog", "a cat"], [["a red dog"], ["a dog"]]) == 50.0


def test_cider_rewards_consensus_and_penalises_length():
    refs = [["a small red dog", "a small red dog in the scene"], ["two large blue cars", "two large blue cars"],
            ["a green tree above a house", "a house below a green tree"]]
    good = cider_d(["a small red dog", "two large blue cars", "a green tree above a house"], refs)
    worse = cider_d(["a small red cat", "two large blue cars", "a green tree above a house"], refs)
    padded = cider_d(["a small red dog a small red dog dog", "two large blue cars",
                      "a green tree above a house"], refs)
    assert good > worse > 0
    assert good > padded


def test_metric_input_errors():
    with pytest.raises(ValueError, match="same length"):
        corpus_bleu(["a"], [])
    with pytest.raises(ValueError, match="empty"):
        cider_d([], [])
    with pytest.raises(ValueError, match="at least one reference"):
        exact_match(["a"], [[]])


def test_cider_d_matches_the_coco_caption_toolkit():
    """Fixture scored once by pycocoevalcap 1.2 (the COCO toolkit's Python port)."""
    import json
    import os

    with open(os.path.join(os.path.dirname(__file__), "fixtures", "cider_reference.json")) as f:
        ref = json.load(f)
    assert cider_d(ref["hypotheses"], ref["references"]) == pytest.approx(ref["score"], rel=1e-9)
