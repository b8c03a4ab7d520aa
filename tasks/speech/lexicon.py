"""An English dictionary for the language model's lexicon: Debian's ``wamerican`` word list.

A language model estimated from the training transcripts alone can output only their
10,000-odd words: 3.8 % of the held-out test words and 14 % of the human recordings' were
beyond its reach whatever the network heard. The SCOWL-based ``wamerican`` list (about
73,500 usable words; permissive licence, see its copyright file) gives the search the words
of everyday English, which :func:`tasks.speech.language_model.write_arpa` adds at the
unigram floor. Fetched pinned with ``apt-get download`` like the corpus sources, never
installed.

Example:
    >>> words = english_words("data/speech_en/cache")
    >>> write_arpa(train_texts, "lm.arpa", vocabulary=words)
"""

import os
import re

from tasks.core.debian import fetch_package

WORD_LIST = ("wamerican", "2020.12.07-2")
WORD_LIST_FILE = "usr/share/dict/american-english"
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def read_word_list(path):
    """A word-per-line file -> sorted, lower-cased words spelled with letters and
    apostrophes only, less the words ending in ``'s``.

    Those are mostly possessives, and each sounds like a plural (``dog's``, ``dogs``): at the
    same floor probability the search could not tell them apart, and they would grow the
    list by 40 %. The few ``'s`` contractions (``where's``) go with them unless the training
    text has them; other contractions (``can't``) stay.

    Example:
        >>> read_word_list("/usr/share/dict/american-english")[:4]
        ['a', 'aa', 'aaa', 'aachen']
    """
    if not os.path.isfile(path):
        raise ValueError(f"path must be a word list file, got {path!r}")
    with open(path, encoding="utf-8", errors="replace") as f:
        words = {line.strip().lower() for line in f}
    return sorted(w for w in words if _WORD.fullmatch(w) and not w.endswith("'s"))


def word_list_notice(cache):
    """Path of the word list's copyright file, whose notice must travel with lists made from
    it (``tools/eval_speech_lm.py --attach`` puts it beside ``lm.arpa``)."""
    tree, _ = fetch_package(*WORD_LIST, cache)
    return os.path.join(tree, "usr/share/doc", WORD_LIST[0], "copyright")


def english_words(cache):
    """The ``wamerican`` word list (:data:`WORD_LIST`), fetched into ``cache`` once.

    Example:
        >>> len(english_words("data/speech_en/cache"))
        73538
    """
    tree, _ = fetch_package(*WORD_LIST, cache)
    return read_word_list(os.path.join(tree, WORD_LIST_FILE))
