"""The word n-gram language model for CTC beam search (tasks/speech/language_model.py):
the estimate is a proper distribution, KenLM reads it as written, and the lexicon search
turns a misspelled alignment into real words."""

import math
import os

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


@pytest.mark.parametrize("order,vocabulary", [(1, ()), (2, ()), (3, ()), (4, ()),
                                              (3, ("lamp", "fan", "turn"))])
def test_every_context_gets_a_distribution_that_sums_to_one(order, vocabulary):
    logp, backoff = estimate(_sentences(), order, vocabulary)
    vocab = [g[0] for g in logp[0] if g[0] != BOS]
    assert "<unk>" in vocab and "</s>" in vocab
    assert set(vocabulary) <= set(vocab)
    for history in [(), ("turn",), (BOS,), ("door", "door"), (BOS, "open"), ("the", "light", "on")]:
        history = history[-(order - 1):] if order > 1 else ()
        total = sum(_prob(logp, backoff, w, history) for w in vocab)
        assert total == pytest.approx(1.0, abs=1e-9), (history, total)


def test_kenlm_reads_the_arpa_file_as_written(tmp_path):
    from flashlight.lib.text.decoder.kenlm import KenLM
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
    # every character off the synthetic path ties at -8, so a cut to the likeliest few a
    # frame would keep an arbitrary few: search them all to reach the missing 'h'
    decoder = WordDecoder(path, ALPHABET, lm_weight=1.0, beam_size=20, beam_size_token=None)
    assert decoder.decode(_emissions("turn the ligt on")[None]) == ["turn the light on"]
    clip = _emissions("open the door now")
    both = decoder.decode(np.stack([clip, clip]), [len(clip), len(clip) - 9])
    assert both == ["open the door now", "open the door"]
    assert decoder.decode(clip[None], [0]) == [""]


def test_dictionary_words_can_be_spelled_at_the_unigram_floor(tmp_path):
    sentences = _sentences()
    plain = WordDecoder(write_arpa(sentences, str(tmp_path / "a.arpa"), 3), ALPHABET, beam_size=20)
    widened = write_arpa(sentences, str(tmp_path / "b.arpa"), 3, vocabulary=["lamp", "turn"])
    logp, _ = estimate(sentences, 3, vocabulary=["lamp", "turn"])
    before, _ = estimate(sentences, 3)
    # an unseen dictionary word gets exactly <unk>'s floor; a seen word keeps its estimate
    # but for the floor's share, now spread over one word more
    assert logp[0][("lamp",)] == logp[0][("<unk>",)] < logp[0][("turn",)]
    floor = [10 ** table[0][("<unk>",)] for table in (before, logp)]
    assert 10 ** logp[0][("turn",)] - 10 ** before[0][("turn",)] == pytest.approx(
        floor[1] - floor[0], rel=1e-4)
    clip = _emissions("turn the lamp on")[None]
    assert plain.decode(clip) != ["turn the lamp on"]  # outside its lexicon: unreachable
    assert WordDecoder(widened, ALPHABET, beam_size=20).decode(clip) == ["turn the lamp on"]
    # the acoustics still rule: a clear 'light' is not traded for the dictionary word
    assert WordDecoder(widened, ALPHABET, beam_size=20).decode(
        _emissions("turn the light on")[None]) == ["turn the light on"]


def test_the_word_list_keeps_plain_words_and_contractions(tmp_path):
    from tasks.speech.lexicon import read_word_list

    path = tmp_path / "words"
    path.write_text("Aachen\naardvark\naardvark's\ncan't\n'tis\ncafé\nX-ray\n\nzoo\nZoo\n",
                    encoding="utf-8")
    assert read_word_list(str(path)) == ["aachen", "aardvark", "can't", "zoo"]
    with pytest.raises(ValueError, match="path"):
        read_word_list(str(tmp_path / "missing"))


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="order"):
        estimate(["a b"], 0)
    with pytest.raises(ValueError, match="sentences"):
        estimate(["", "  "], 2)
    with pytest.raises(ValueError, match="vocabulary"):
        estimate(["a b"], 2, vocabulary=["fine", "two words"])
    with pytest.raises(TypeError, match="vocabulary"):
        estimate(["a b"], 2, vocabulary="lamp")
    with pytest.raises(ValueError, match="arpa_path"):
        WordDecoder(str(tmp_path / "missing.arpa"))
    decoder = WordDecoder(write_arpa(["a b c"], str(tmp_path / "lm.arpa"), 2), ALPHABET)
    with pytest.raises(ValueError, match="log_probs"):
        decoder.decode(np.zeros([1, 5, 7], np.float32))
    for options, name in [({"beam_threshold": 0.0}, "beam_threshold"),
                          ({"beam_size_token": 0}, "beam_size_token")]:
        with pytest.raises(ValueError, match=name):
            WordDecoder(str(tmp_path / "lm.arpa"), ALPHABET, **options)


def test_the_default_pruned_search_finds_what_the_full_search_finds(tmp_path):
    from tasks.speech.language_model import SEARCH

    path = write_arpa(_sentences(), str(tmp_path / "lm.arpa"), order=3)
    full = WordDecoder(path, ALPHABET, beam_size=50, beam_threshold=25.0)
    pruned = WordDecoder(path, ALPHABET, **SEARCH)
    one_token = WordDecoder(path, ALPHABET, beam_size=50, beam_size_token=1)
    for text in ("turn the ligt on", "open the door now please", "close the window"):
        clip = _emissions(text)
        noisy = clip + np.random.default_rng(len(text)).normal(0, 1.0, clip.shape).astype(np.float32)
        assert pruned.decode(noisy[None]) == full.decode(noisy[None])
    # a search that may extend by one character a frame follows the greedy path alone
    assert one_token.decode(_emissions("turn the ligt on")[None]) != ["turn the light on"]


# -- in the task, the pipeline and the CLI ------------------------------------------------
@pytest.fixture(scope="module")
def task_with_lm(saved_speech_dir, speech_examples, tmp_path_factory):
    from tasks.core.task import Task

    task = Task.load(saved_speech_dir)  # a copy: the session's fixture stays LM-free
    arpa = write_arpa([e["text"] for e in speech_examples],
                      str(tmp_path_factory.mktemp("lm") / "fixture.arpa"), order=3)
    task.attach_language_model(arpa, lm_weight=0.5, word_score=0.0, beam_size=16)
    return task


def test_the_pipeline_decodes_with_the_language_model_and_keeps_it_when_saved(
        task_with_lm, speech_examples, tmp_path):
    import os

    import pipelines
    from tasks.core.task import Task

    paths, texts = [e["audio"] for e in speech_examples], [e["text"] for e in speech_examples]
    graph = pipelines.transcribe(paths, model=task_with_lm, language_model=False)
    with_lm = pipelines.transcribe(paths, model=task_with_lm)  # the model's default: on
    assert with_lm == texts and graph == texts  # the overfit model knows them either way
    stamped = pipelines.transcribe(paths[0], model=task_with_lm, return_timestamps="word")
    assert [w["word"] for w in stamped["words"]] == texts[0].split()
    assert all(0 <= w["start"] < w["end"] for w in stamped["words"])
    # probabilities of the letters the search spelt (softmaxed logits): the overfit model's
    # are near 1
    assert all(0.5 < w["confidence"] <= 1.0 for w in stamped["words"]), stamped["words"]
    saved = task_with_lm.save(str(tmp_path / "with_lm"))
    assert os.path.isfile(os.path.join(saved, "lm.arpa"))
    reloaded = Task.load(saved)
    assert reloaded.config["language_model"]["lm_weight"] == 0.5
    assert pipelines.transcribe(paths, model=reloaded) == texts
    from tasks.speech.data import make_training_dataset

    ds = make_training_dataset(speech_examples, reloaded.preprocessor, 3, labels="text")
    scored = reloaded.evaluate(ds)  # the model's default: with the language model
    assert scored["transcripts"] == texts and scored["wer"] == 0.0
    assert reloaded.evaluate(ds, language_model=False)["transcripts"] == texts
    os.remove(os.path.join(saved, "lm.arpa"))
    with pytest.raises(ValueError, match="lm.arpa"):
        pipelines.transcribe(paths[0], model=Task.load(saved))


def test_language_model_argument_is_checked(overfit_speech_task, exported_speech_dir,
                                            speech_examples):
    import pipelines

    path = speech_examples[0]["audio"]
    with pytest.raises(ValueError, match="no language model"):
        pipelines.transcribe(path, model=overfit_speech_task, language_model=True)
    with pytest.raises(TypeError, match="language_model"):
        pipelines.transcribe(path, model=overfit_speech_task, language_model="yes")
    with pytest.raises(ValueError, match="language_model"):
        pipelines.transcribe(path, model=exported_speech_dir, language_model=True)
    assert pipelines.transcribe(path, model=exported_speech_dir, language_model=False)


def test_the_search_defaults_are_search_and_old_models_keep_theirs(saved_speech_dir, tmp_path,
                                                                    monkeypatch):
    from tasks.core.task import Task
    from tasks.speech import language_model
    from tasks.speech.language_model import SEARCH

    arpa = write_arpa(_sentences(), str(tmp_path / "lm.arpa"), 2)
    task = Task.load(saved_speech_dir)
    task.attach_language_model(arpa, lm_weight=0.5)
    assert task.config["language_model"] == {"file": "lm.arpa", "lm_weight": 0.5,
                                             "word_score": 0.0, **SEARCH}
    built = []

    class Recording:
        def __init__(self, *args, **options):
            built.append(options)

    monkeypatch.setattr(language_model, "WordDecoder", Recording)
    task.word_decoder()
    assert built[-1] == {k: SEARCH[k] for k in ("beam_threshold", "beam_size_token")}
    # a model saved before the two pruning options existed searches as it always did
    for key in ("beam_threshold", "beam_size_token"):
        del task.config["language_model"][key]
    task.__dict__.pop("_word_decoders")
    task.word_decoder()
    assert built[-1] == {"beam_threshold": 25.0, "beam_size_token": None}
    monkeypatch.undo()
    # the default search fits an alphabet smaller than its characters a frame
    small = WordDecoder(write_arpa(["a b ab"], str(tmp_path / "s.arpa"), 2), "ab ")
    assert SEARCH["beam_size_token"] > 4
    logits = np.full((9, 4), -8.0, np.float32)
    logits[np.arange(9), [1, 1, 0, 3, 2, 0, 3, 1, 2]] = 0.0
    assert small.decode(logits[None]) == ["a b ab"]


def test_a_long_recording_is_searched_in_pieces_cut_between_words(tmp_path):
    path = write_arpa(_sentences(), str(tmp_path / "lm.arpa"), order=3)
    text = " ".join(["open the door now please"] * 12)
    clip = _emissions(text)  # 3 frames a character: 1,068 frames
    whole = WordDecoder(path, ALPHABET, beam_size=20, max_frames=5000)
    pieces = WordDecoder(path, ALPHABET, beam_size=20, max_frames=100)
    one, one_path = whole.decode_with_path(clip)
    many, many_path = pieces.decode_with_path(clip)
    assert one == many == text
    def spelled(path):  # CTC collapse: repeats merged, blanks dropped
        keep = [k for i, k in enumerate(path) if k != 0 and (i == 0 or k != path[i - 1])]
        return " ".join("".join(ALPHABET[k - 1] for k in keep).split())

    assert len(one_path) == len(many_path) == len(clip)
    assert spelled(one_path) == spelled(many_path) == text
    from tasks.speech.language_model import cut_points

    cuts = cut_points(clip, 100, IDS[" "])
    assert cuts[0] == 0 and cuts[-1] == len(clip) and max(np.diff(cuts)) <= 100
    assert all(np.argmax(clip[c]) == IDS[" "] for c in cuts[1:-1])  # at spaces, never in a word


def test_attaching_a_widened_model_carries_the_word_lists_notice(tmp_path):
    import json
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "tools"))
    import eval_speech_lm

    task_dir = tmp_path / "task"
    task_dir.mkdir()
    (task_dir / "task.json").write_text(json.dumps({"task": "speech", "config": {}}))
    arpa = write_arpa(_sentences(), str(tmp_path / "lm.arpa"), 2, vocabulary=["lamp"])
    notice = tmp_path / "copyright"
    notice.write_text("Copyright 2000-2011 by Kevin Atkinson\n")
    search = {"beam_size": 200, "beam_threshold": 10.0, "beam_size_token": 8}
    eval_speech_lm.attach(str(task_dir), arpa, 1.5, 0.0, search, str(notice))
    config = json.loads((task_dir / "task.json").read_text())["config"]["language_model"]
    assert config == {"file": "lm.arpa", "lm_weight": 1.5, "word_score": 0.0, **search}
    assert "lamp" in arpa_words(str(task_dir / "lm.arpa"))
    assert (task_dir / eval_speech_lm.NOTICE_FILE).read_text() == notice.read_text()
    # a model without the word list drops the notice it no longer needs
    eval_speech_lm.attach(str(task_dir), write_arpa(["a b"], str(tmp_path / "b.arpa"), 2),
                          1.0, 0.0, search)
    assert not (task_dir / eval_speech_lm.NOTICE_FILE).exists()


# -- building one for a trained model: the recipe and the CLI verb ----------------------
def _corpus_with_val(tmp_path, val_ids):
    """A corpus whose train split is the six fixture utterances and whose val split holds
    ``val_ids`` of them (the same audio files)."""
    from speech_fixtures import SPEECH_FIXTURE

    root = tmp_path / "corpus"
    (root / "val").mkdir(parents=True)
    os.symlink(SPEECH_FIXTURE, root / "train")
    os.symlink(os.path.join(SPEECH_FIXTURE, "wavs"), root / "val" / "wavs")
    with open(os.path.join(SPEECH_FIXTURE, "metadata.csv")) as f:
        rows = [line for line in f if line.split("|")[0] in val_ids]
    (root / "val" / "metadata.csv").write_text("".join(rows))
    return str(root)


def test_the_language_model_verb_builds_tunes_and_saves_one(saved_speech_dir, speech_examples,
                                                             tmp_path, capsys):
    import json

    import pipelines
    from pipelines.cli import main
    from tasks.core.task import Task

    val = {"test_000320": "go to line", "test_natural_000171": "sign a key"}
    data = _corpus_with_val(tmp_path, val)
    text = tmp_path / "more.txt"
    text.write_text("Go to line 10.\n\nSign a key, please!\n")
    words = tmp_path / "words.txt"
    words.write_text("lamp\nFan's\n")
    out = str(tmp_path / "with_lm")
    assert main(["language-model", "speech", "--model", saved_speech_dir, "--data", data,
                 "--output", out, "--text", str(text), "--lexicon", str(words),
                 "--beam-size", "16"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # the six transcripts less the two that are val's, plus the text file's two lines
    assert (report["sentences"], report["left_out"], report["utterances"]) == (6, 2, 2)
    assert report["language_model"] == {"wer": 0.0, "cer": 0.0}
    assert {"ten", "please", "lamp"} <= set(arpa_words(os.path.join(out, "lm.arpa")))
    assert "fan's" not in arpa_words(os.path.join(out, "lm.arpa"))
    task = Task.load(out)
    assert task.config["language_model"] == {
        "file": "lm.arpa", "lm_weight": report["lm_weight"], "word_score": report["word_score"],
        "beam_size": 16, "beam_threshold": 10.0, "beam_size_token": 8}
    paths = [e["audio"] for e in speech_examples if e["id"] in val]
    assert pipelines.transcribe(paths, model=task) == [val[os.path.basename(p)[:-4]] for p in paths]
    assert not os.path.exists(os.path.join(out, "lm_word_list_copyright.txt"))


def test_the_language_model_verb_rejects_what_it_cannot_build_from(saved_speech_dir, tmp_path,
                                                                   capsys):
    from pipelines.cli import main

    every = ["train_010452", "train_009532", "test_000520", "test_000320",
             "test_natural_000425", "test_natural_000171"]
    data = _corpus_with_val(tmp_path, every)
    base = ["language-model", "speech", "--model", saved_speech_dir, "--data", data,
            "--output", str(tmp_path / "out")]
    assert main(base + ["--text", str(tmp_path / "missing.txt")]) == 2
    assert "--text" in capsys.readouterr().err
    assert main(base + ["--no-transcripts"]) == 2
    assert "--no-transcripts needs" in capsys.readouterr().err
    assert main(base) == 2  # every transcript is also a val sentence: nothing to estimate from
    assert "no sentence is left" in capsys.readouterr().err
    assert main(base + ["--tune-split", "dev"]) == 2
    assert "tune_split" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "out")
