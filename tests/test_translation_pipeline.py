"""pipelines.translate, the exported translator in stock TensorFlow, the CLI verbs, the
.po filler, and one test per kind of bad input."""

import io
import json
import os
import re

import polib
import pytest

import pipelines
from concurrency import in_threads_then_in_turn
from pipelines.cli import main
from tasks.translation.gettext import fill_catalog
from tasks.translation.placeholders import ENTITY

HERE = os.path.dirname(os.path.abspath(__file__))


def test_list_in_list_out_and_placeholders_exactly_once(overfit_translation_task):
    model = overfit_translation_task
    texts = ["Delete %s from {folder}?", "Copy %(count)s files to $1 %d"]
    out = pipelines.translate(texts, model=model)
    assert isinstance(out, list) and len(out) == 2
    for text, result in zip(texts, out):
        for ph in ("%s", "{folder}", "%(count)s", "$1", "%d"):
            assert result.count(ph) == text.count(ph)
    assert pipelines.translate(texts[0], model=model) == out[0]


def test_markup_entities_and_accelerators_come_back_exactly_once(overfit_translation_task):
    texts = ["Click <b>here</b> &amp; &Open %s", '_Save <a href="x">the</a> list of operators']
    for text, marker, result in zip(texts, "&_", pipelines.translate(texts, model=overfit_translation_task)):
        for kept in ("<b>", "</b>", "&amp;", "%s", '<a href="x">', "</a>"):
            assert result.count(kept) == text.count(kept), (text, result)
        # One marker, before a letter (inside a word is allowed on the way out).
        assert re.findall(f"{marker}[^\\W_]", re.sub(ENTITY, "", result)) != [], result
        assert re.sub(ENTITY, "", result).count(marker) == 1, result


def test_memorised_pair_through_the_pipeline(overfit_translation_task, tiny_pairs):
    # "List of operators" -> "Liste des opérateurs" was learned; placeholders are in
    # corpus form there, so compare on a pair without them.
    pair = tiny_pairs[4]
    assert pipelines.translate(pair["source"], model=overfit_translation_task) == pair["target"]


def test_layout_is_kept_line_by_line(overfit_translation_task, tiny_pairs):
    a, b = tiny_pairs[4], tiny_pairs[6]
    text = f"  {a['source']}\n\n\t{b['source']}  \r\n"
    assert pipelines.translate(text, model=overfit_translation_task) == \
        f"  {a['target']}\n\n\t{b['target']}  \r\n"


def test_exported_model_serves_strings_in_stock_tensorflow(overfit_translation_task,
                                                           exported_translation_dir, stock_tf):
    texts = ["Delete %s from {folder}?", "Base line", "", "List of operators",
             "<b>Base</b> &line &amp;"]
    out = stock_tf.serve("--translation", exported_translation_dir, *texts)
    assert out["modules"] == []
    assert out["inputs"] == {"texts": ["string", [None]]}
    expected = overfit_translation_task.translate(texts)
    assert out["batch"] == expected
    assert out["one"] == expected[:1]  # a second batch size


def test_exported_model_refuses_decoding_options(exported_translation_dir):
    assert pipelines.translate("Base line", model=exported_translation_dir)
    with pytest.raises(ValueError, match="beam_width"):
        pipelines.translate("Base line", model=exported_translation_dir, beam_width=2)


# -- bad inputs: one test per kind ----------------------------------------------------------

def test_empty_and_blank_strings(overfit_translation_task):
    assert pipelines.translate("", model=overfit_translation_task) == ""
    assert pipelines.translate(["   ", "\n"], model=overfit_translation_task) == ["   ", "\n"]


def test_non_string_is_a_type_error(overfit_translation_task):
    with pytest.raises(TypeError, match=r"text\[1\] has type int"):
        pipelines.translate(["ok", 3], model=overfit_translation_task)
    with pytest.raises(TypeError, match="text has type NoneType"):
        pipelines.translate(None, model=overfit_translation_task)


def test_invalid_utf8_bytes(overfit_translation_task):
    with pytest.raises(ValueError, match="text is not valid UTF-8"):
        pipelines.translate(b"caf\xe9", model=overfit_translation_task)
    assert pipelines.translate("Base line".encode(), model=overfit_translation_task)


def test_over_long_text(overfit_translation_task):
    with pytest.raises(ValueError, match="above the limit of 20000"):
        pipelines.translate("word " * 5000, model=overfit_translation_task)


def test_bad_decoding_options(overfit_translation_task):
    with pytest.raises(ValueError, match="beam_width must be a positive int"):
        pipelines.translate("x", model=overfit_translation_task, beam_width=0)
    with pytest.raises(ValueError, match="max_length must be in 1..64"):
        pipelines.translate("x", model=overfit_translation_task, max_length=500)


def test_missing_default_weights_say_so(monkeypatch):
    from tasks.translation.task import TranslationTask

    spec = TranslationTask.presets["debian_en_fr_transformer"]
    monkeypatch.setitem(TranslationTask.presets, "debian_en_fr_transformer",
                        {**spec, "path": "/nonexistent/weights"})
    with pytest.raises(ValueError, match="missing from this install"):
        TranslationTask.from_preset("debian_en_fr_transformer")


# -- CLI -------------------------------------------------------------------------------------

def test_translate_verb_arguments_stdin_and_json(saved_translation_dir, tiny_pairs, capsys,
                                                 monkeypatch):
    pair = tiny_pairs[4]
    assert main(["translate", pair["source"], "--model", saved_translation_dir]) == 0
    assert capsys.readouterr().out == pair["target"] + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{pair['source']}\n{tiny_pairs[6]['source']}\n"))
    assert main(["translate", "--json", "--model", saved_translation_dir]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines == [{"input": pair["source"], "translation": pair["target"]},
                     {"input": tiny_pairs[6]["source"], "translation": tiny_pairs[6]["target"]}]


def test_translation_train_evaluate_export(tmp_path, capsys):
    data = os.path.join(HERE, "fixtures", "debian_en_fr_tiny")
    out = str(tmp_path / "nmt")
    assert main(["train", "translation", "--data", data, "--output", out, "--epochs", "1",
                 "--steps-per-epoch", "3", "--batch-size", "4", "--vocabulary-size", "300",
                 "--preset", "transformer_small"]) == 0
    assert json.loads(capsys.readouterr().out)["saved"] == out
    assert main(["evaluate", "translation", "--data", data, "--model", out, "--beam", "1",
                 "--limit", "4"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["examples"] == 4 and {"bleu", "chrf", "placeholder_preservation"} <= set(result)
    assert main(["export", "translation", "--model", out, "--output", str(tmp_path / "sm")]) == 0
    assert os.path.isfile(tmp_path / "sm" / "saved_model.pb")


def test_train_continue_from_fine_tunes_a_trained_translator(saved_translation_dir,
                                                            exported_translation_dir, tmp_path,
                                                            capsys):
    import numpy as np

    from tasks.core.task import Task

    data = os.path.join(HERE, "fixtures", "debian_en_fr_tiny")
    out = str(tmp_path / "more")
    # --vocabulary-size and --preset belong to a new model: a continued one keeps its own
    assert main(["train", "translation", "--data", data, "--output", out, "--epochs", "1",
                 "--steps-per-epoch", "2", "--batch-size", "4", "--vocabulary-size", "300",
                 "--continue-from", saved_translation_dir]) == 0
    capsys.readouterr()
    before, after = Task.load(saved_translation_dir), Task.load(out)
    assert after.config["vocabulary"] == before.config["vocabulary"]
    old, new = before.model.get_weights(), after.model.get_weights()
    assert [w.shape for w in old] == [w.shape for w in new]
    assert any(not np.array_equal(a, b) for a, b in zip(old, new))  # it trained
    assert main(["train", "translation", "--data", data, "--output", str(tmp_path / "no"),
                 "--continue-from", exported_translation_dir]) == 2
    assert "--continue-from" in capsys.readouterr().err

PO = '''# French translations for demo.
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\\n"

#: src/main.c:10
msgid "Base line"
msgstr "Ligne de base"

#: src/main.c:20
#, c-format
msgid "Delete %s from {folder}?"
msgstr ""

msgctxt "menu"
msgid ""
"List of "
"operators"
msgstr ""

msgid "%d file"
msgid_plural "%d files"
msgstr[0] ""
msgstr[1] ""

#~ msgid "Old"
#~ msgstr "Vieux"
'''


def test_translate_po_fills_only_empty_entries_and_marks_them_fuzzy(saved_translation_dir, tmp_path):
    path = tmp_path / "fr.po"
    path.write_text(PO, encoding="utf-8")
    report = fill_catalog(str(path), str(tmp_path / "out.po"), model=saved_translation_dir)
    assert report == {"entries": 4, "filled": 3, "already_translated": 1, "skipped": 0}
    out = (tmp_path / "out.po").read_text(encoding="utf-8")
    untouched = [PO.split("\n\n")[i] for i in (0, 1, 5)]
    for block in untouched:
        assert block in out
    catalog = polib.pofile(out)
    filled = {e.msgid: e for e in catalog if not e.obsolete and e.msgid}
    assert "fuzzy" in filled["Delete %s from {folder}?"].flags
    assert "c-format" in filled["Delete %s from {folder}?"].flags
    assert filled["Delete %s from {folder}?"].msgstr.count("%s") == 1
    assert filled["List of operators"].msgstr == "Liste des opérateurs"
    assert filled["List of operators"].msgctxt == "menu"
    assert all(filled["%d file"].msgstr_plural[i].count("%d") == 1 for i in (0, 1))
    assert filled["Base line"].msgstr == "Ligne de base" and "fuzzy" not in filled["Base line"].flags


def test_translate_po_verb_in_place(saved_translation_dir, tmp_path, capsys):
    path = tmp_path / "fr.po"
    path.write_text(PO, encoding="utf-8")
    assert main(["translate-po", str(path), "--model", saved_translation_dir]) == 0
    assert json.loads(capsys.readouterr().out)["filled"] == 3
    assert polib.pofile(str(path)).percent_translated() > 0


def test_eight_threads_give_the_sequential_results_and_load_once(saved_translation_dir, tiny_pairs,
                                                                 monkeypatch):
    texts = [p["source"].replace("<ph0>", "%s").replace("<ph1>", "{x}") for p in tiny_pairs]
    threaded, sequential, loads = in_threads_then_in_turn(
        monkeypatch, lambda t: pipelines.translate(t, model=saved_translation_dir, beam_width=2), texts)
    assert threaded == sequential and loads == 1


@pytest.mark.parametrize("seed", range(3))
def test_random_unicode_gives_a_string_or_a_named_error(overfit_translation_task, seed):
    """A small seeded fuzz: any Unicode (controls, surrogates escaped, emoji, RTL,
    combining marks, placeholders-lookalikes) gives a string back, never another error."""
    import random

    rng = random.Random(seed)
    alphabet = ([chr(c) for c in range(0, 0x250)] + list("«»’…–—%{}$<>\u200b\u202e\u0301\ufeff")
                + ["😀", "🇫🇷", "日", "ش", "<ph0>", "%s", "%(", "{", "$1", "\r\n", "\t"])
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(16)]
    out = pipelines.translate(texts, model=overfit_translation_task, beam_width=1, max_length=16)
    assert len(out) == len(texts) and all(isinstance(o, str) for o in out)
    for text, result in zip(texts, out):
        from tasks.translation.placeholders import protect_py

        for ph in set(protect_py(text.strip())[1]):
            assert result.count(ph) >= 1, (text, result)
