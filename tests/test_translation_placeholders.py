"""Placeholder protection/restoration and sentence splitting: graph == Python, and the
'every placeholder exactly once' guarantee."""

import collections

import pytest
import tensorflow as tf

from tasks.translation.cleaning import PLACEHOLDER
from tasks.translation.placeholders import (protect, protect_py, put_accelerator,
                                            put_accelerator_py, restore, restore_py,
                                            split_segments, split_segments_py, split_sentences,
                                            split_sentences_py, take_accelerator,
                                            take_accelerator_py)

RAW = ["Delete %s from {folder}?", "%d files, %d dirs", "no placeholders", "",
       "%1$s and %2$s", "Copy %(count)s of $1 to ${dest}", "%-10s|%5.2f|%lu"]


def _strings(t):
    return [s.decode("utf-8") for s in t.numpy()]


def test_protect_numbers_placeholders_in_order():
    protected, originals = protect(tf.constant(RAW))
    assert _strings(protected)[:2] == ["Delete <ph0> from <ph1>?", "<ph0> files, <ph1> dirs"]
    assert originals.to_list()[5] == [b"%(count)s", b"$1", b"${dest}"]
    assert [(t, o) for t, o in zip(_strings(protected), originals.to_list())] == [
        (p, [x.encode() for x in o]) for p, o in map(protect_py, RAW)]


@pytest.mark.parametrize("output, expected", [
    ("Supprimer <ph0> de <ph1> ?", "Supprimer %s de {folder} ?"),     # as is
    ("Supprimer <ph1> <ph0> <ph1> ?", "Supprimer {folder} %s ?"),      # repeat dropped
    ("Supprimer <ph0> <ph7> ?", "Supprimer %s ? {folder}"),            # invented dropped, lost appended
    ("Supprimer", "Supprimer %s {folder}"),                            # all lost
])
def test_restore_puts_every_placeholder_back_exactly_once(output, expected):
    _, originals = protect(tf.constant([RAW[0]]))
    assert _strings(restore(tf.constant([output]), originals)) == [expected]
    assert restore_py(output, ["%s", "{folder}"]) == expected


def test_graph_equals_python_on_the_heldout_split(heldout_pairs):
    # The corpus holds <phN>; put real placeholders of several kinds back in.
    kinds = ["%s", "{name}", "%1$d", "%(count)s", "$1"]
    sources = [s.replace("<ph0>", kinds[i % 5]).replace("<ph1>", kinds[(i + 1) % 5])
               for i, s in enumerate(p["source"] for p in heldout_pairs)]
    protected, originals = protect(tf.constant(sources))
    assert _strings(protected) == [protect_py(s)[0] for s in sources]
    targets = [p["target"] for p in heldout_pairs]
    restored = _strings(restore(tf.constant(targets), originals))
    assert restored == [restore_py(t, protect_py(s)[1]) for t, s in zip(targets, sources)]
    for s, r in zip(sources, restored):
        assert collections.Counter(PLACEHOLDER.findall(s)) == collections.Counter(
            m for m in PLACEHOLDER.findall(r) if m in protect_py(s)[1])
    sentences = split_sentences(tf.constant(targets)).to_list()
    assert [[x.decode() for x in row] for row in sentences] == [split_sentences_py(t) for t in targets]


OPTION_LIST = ("Usage: fuser [-a|-s] NAME... Show which processes use the files. "
               "-a,--all display unused files too -k, --kill kill processes "
               "-s,--signal SIGNAL send this signal. Use -f to force it.")


def test_split_segments_graph_equals_python(heldout_pairs):
    texts = [p[k] for p in heldout_pairs for k in ("source", "target")] + [OPTION_LIST, "", "  "]
    segments = split_segments(tf.constant(texts)).to_list()
    assert [[x.decode() for x in row] for row in segments] == [split_segments_py(t) for t in texts]


def test_split_segments_cuts_option_lists_into_entries():
    assert split_segments_py(OPTION_LIST) == [
        "Usage: fuser [-a|-s] NAME...", "Show which processes use the files.",
        "-a,--all display unused files too", "-k, --kill kill processes",
        "-s,--signal SIGNAL send this signal.", "Use -f to force it."]
    # one option in prose is not a list: the sentence stays whole
    assert split_segments_py("Use -f to force it and -- to end the options.") == [
        "Use -f to force it and -- to end the options."]


def test_split_sentences_keeps_end_marks():
    text = "First one. Second! Third? « Quoted. » Last"
    assert split_sentences_py(text) == ["First one.", "Second!", "Third?", "« Quoted. »", "Last"]
    assert [s.decode() for s in split_sentences(tf.constant([text])).to_list()[0]] == \
        split_sentences_py(text)


def test_literal_tokens_and_nul_cannot_confuse_protection():
    text = "keep <ph0> and $1\x00 here"
    protected, originals = protect(tf.constant([text]))
    assert _strings(protected) == ["keep <ph0> and <ph1> here"] == [protect_py(text)[0]]
    assert originals.to_list() == [[b"<ph0>", b"$1"]]
    assert _strings(restore(tf.constant(["garder <ph1> et <ph0>"]), originals)) == ["garder $1 et <ph0>"]


def test_markup_tags_and_entities_are_protected_like_placeholders():
    texts = ['Click <b>here</b> or <a href="a?x=1&y=2">there</a>.', "Fish &amp; chips &#169;",
             "<br/>Line %s", "a < b and c > d"]
    protected, originals = protect(tf.constant(texts))
    assert _strings(protected) == ["Click <ph0>here<ph1> or <ph2>there<ph3>.",
                                   "Fish <ph0> chips <ph1>", "<ph0>Line <ph1>", "a < b and c > d"]
    assert originals.to_list()[1] == [b"&amp;", b"&#169;"]
    assert [(t, o) for t, o in zip(_strings(protected), originals.to_list())] == [
        (p, [x.encode() for x in o]) for p, o in map(protect_py, texts)]
    restored = restore(tf.constant(["Cliquez <ph0>ici<ph1> ou <ph3>là<ph2>."]), originals[:1])
    assert _strings(restored) == ['Cliquez <b>ici</b> ou </a>là<a href="a?x=1&y=2">.']


ACCELERATED = ["&Open", "_File", "Save ~As…", "AT&T and R&D", "file_name", "&&Not", "x &Über",
               "~/Documents", "a\n&Next", "", "&", "&1 file", "Tom & Jerry", "<ph0> &Print <ph1>"]


def test_accelerators_are_taken_out_before_the_model():
    stripped, keys = take_accelerator(tf.constant(ACCELERATED))
    assert list(zip(_strings(stripped), _strings(keys))) == list(map(take_accelerator_py, ACCELERATED))
    assert _strings(keys) == ["&O", "_F", "~A", "", "", "", "&Ü", "", "&N", "", "", "&1", "", "&P"]
    assert _strings(stripped)[:3] == ["Open", "File", "Save As…"]


@pytest.mark.parametrize("output, key, expected", [
    ("Ouvrir", "&O", "&Ouvrir"),                     # same letter, any case
    ("Ouvrir un fichier", "&F", "Ouvrir un &fichier"),  # a word that starts with it first
    ("Imprimer", "&P", "Im&primer"),                 # else the letter inside a word
    ("Aide", "&H", "&Aide"),                         # else the first letter
    ("<ph0> Aide <ph1>", "_P", "<ph0> _Aide <ph1>"),  # never inside a <phN> token
    ("Überall", "&ü", "&Überall"),                   # case folding beyond ASCII
    ("« ! »", "&O", "« ! »"),                        # nothing to mark
    ("Ouvrir", "", "Ouvrir"),                        # no accelerator
])
def test_accelerator_is_put_on_the_translation(output, key, expected):
    assert _strings(put_accelerator(tf.constant([output]), tf.constant([key]))) == [expected]
    assert put_accelerator_py(output, key) == expected
