"""Parallel-text readers and the gettext cleaning rules, on fixture files."""

import pytest

from tasks.translation.cleaning import (clean_pairs, is_sentence, protect_placeholders,
                                        strip_accelerators, strip_markup)
from tasks.translation.data import make_dataset, read_gettext, read_moses, read_tsv_pairs

PO = r'''# French translation
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n > 1);\n"

msgid "_Open File"
msgstr "_Ouvrir le fichier"

#, c-format
msgid "%s is already the newest version (%s).\n"
msgstr "%s est déjà la version la plus récente (%s).\n"

#, fuzzy
msgid "Delete everything"
msgstr "Tout effacer"

msgid "Untranslated message"
msgstr ""

msgid "%d file was copied"
msgid_plural "%d files were copied"
msgstr[0] "%d fichier a été copié"
msgstr[1] "%d fichiers ont été copiés"

msgctxt "menu"
msgid "<b>Bold</b> &amp; &Save"
msgstr "<b>Gras</b> &amp; &Enregistrer"

msgid "OK"
msgstr "OK"

msgid "Copied {count} items to %(folder)s"
msgstr "{count} éléments copiés vers %(folder)s"

msgid "Lost %s here"
msgstr "Perdu ici"

#~ msgid "Old message"
#~ msgstr "Ancien message"
'''


@pytest.fixture()
def po_file(tmp_path):
    path = tmp_path / "demo.po"
    path.write_text(PO, encoding="utf-8")
    return str(path)


def test_po_and_compiled_mo_read_the_same(po_file, tmp_path):
    import polib

    mo_path = str(tmp_path / "demo.mo")
    polib.pofile(po_file).save_as_mofile(mo_path)
    po, mo = read_gettext(po_file), read_gettext(mo_path)
    key = lambda e: (e["source"], e["target"])  # noqa: E731
    # .mo drops fuzzy entries when compiled; everything else matches
    assert sorted(map(key, mo)) == sorted(key(e) for e in po if not e["fuzzy"] and e["target"])
    plural = [e for e in po if e["plural"]]
    assert [(e["source"], e["target"]) for e in plural] == [
        ("%d file was copied", "%d fichier a été copié"), ("%d files were copied", "%d fichiers ont été copiés")]
    assert not any(e["source"] == "Old message" for e in po)  # obsolete


def test_cleaning_rules_and_report(po_file):
    pairs, report = clean_pairs(read_gettext(po_file))
    got = {p["source"]: p["target"] for p in pairs}
    assert got["Open File"] == "Ouvrir le fichier"                        # accelerators
    assert got["<ph0> is already the newest version (<ph1>)."] == \
        "<ph0> est déjà la version la plus récente (<ph1>)."               # placeholders
    assert got["Bold & Save"] == "Gras & Enregistrer"                      # markup + entities
    assert got["Copied <ph0> items to <ph1>"] == "<ph0> éléments copiés vers <ph1>"
    assert "<ph0> files were copied" in got                                # plural form kept
    assert report["dropped_fuzzy"] == 1 and report["dropped_untranslated"] == 1
    assert report["dropped_identical_copy"] == 1                           # OK -> OK
    assert report["dropped_placeholder_mismatch"] == 1                     # "Lost %s here"
    assert report["kept"] == len(pairs) == 6 and report["input"] == 10


def test_duplicates_are_dropped():
    entries = [{"source": "Save", "target": "Enregistrer"}, {"source": "_Save", "target": "_Enregistrer"}]
    pairs, report = clean_pairs(entries)
    assert len(pairs) == 1 and report["dropped_duplicate"] == 1


@pytest.mark.parametrize("text,expected", [
    ("_File", "File"), ("&Open", "Open"), ("Save ~As", "Save As"), ("Tom && Jerry", "Tom & Jerry"),
    ("snake_case_name", "snake_case_name"), ("AT&T", "AT&T"), ("__init__", "_init_"),
])
def test_accelerators(text, expected):
    assert strip_accelerators(text) == expected


def test_markup_and_placeholders_edge_cases():
    assert strip_markup('Click <a href="x">here</a><br/>') == "Click here"
    assert protect_placeholders("100%% done: %1$s of %2$d", "%2$d : %1$s, 100%% fait") == (
        "100% done: <ph0> of <ph1>", "<ph1> : <ph0>, 100% fait")
    assert protect_placeholders("Run $1 with ${HOME}", "Lancer $1 avec ${HOME}") == (
        "Run <ph0> with <ph1>", "Lancer <ph0> avec <ph1>")
    assert protect_placeholders("%s and %s", "%s") is None
    assert protect_placeholders("{a} then {b}", "{b} puis {a}") == ("<ph0> then <ph1>", "<ph1> puis <ph0>")
    assert is_sentence("Open the file now") and not is_sentence("Open") and not is_sentence("a " * 31)


def test_tsv_reader_tatoeba_layout(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text("Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n"
                    "Hi.\tSalut !\tCC-BY 2.0\n\n", encoding="utf-8")
    assert read_tsv_pairs(str(path)) == [{"source": "Go.", "target": "Va !"},
                                         {"source": "Hi.", "target": "Salut !"}]
    path.write_text("no tab\n")
    with pytest.raises(ValueError, match="tab-separated"):
        read_tsv_pairs(str(path))


def test_moses_reader(tmp_path):
    (tmp_path / "train.en").write_text("Hello\nGood night\n", encoding="utf-8")
    (tmp_path / "train.fr").write_text("Bonjour\nBonne nuit\n", encoding="utf-8")
    pairs = read_moses(str(tmp_path / "train.en"), str(tmp_path / "train.fr"))
    assert pairs[1] == {"source": "Good night", "target": "Bonne nuit"}
    (tmp_path / "train.fr").write_text("Bonjour\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line-aligned"):
        read_moses(str(tmp_path / "train.en"), str(tmp_path / "train.fr"))


def test_reader_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        read_gettext(str(tmp_path / "missing.mo"))
    bad = tmp_path / "bad.mo"
    bad.write_bytes(b"not a catalog")
    with pytest.raises(ValueError, match="not a readable gettext catalog"):
        read_gettext(str(bad))


def test_make_dataset_batches_strings():
    ds = make_dataset([{"source": "a", "target": "b"}] * 5, batch_size=2)
    src, tgt = next(iter(ds))
    assert src.shape == (2,) and tgt.numpy()[0] == b"b"
