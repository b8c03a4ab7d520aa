"""Placeholders and long texts around the model, in core TF ops (with Python twins).

Software strings carry placeholders (``%s``, ``%1$d``, ``{name}``, ``%(count)s``,
``$1`` ...), markup tags (``<b>``, ``<a href="...">``) and HTML entities (``&amp;``) that
must come out exactly as they went in. :func:`protect` numbers them in order of
appearance as the corpus's ``<phN>`` tokens (the numbering the cleaning step gave the
training data); :func:`restore` puts the originals back, keeping the first copy of each,
dropping invented or repeated ones and appending any the model lost, so every one of
them appears exactly once in the output.

Keyboard accelerators (``&Open``, ``_File``, ``~Save``) are not words the model knows
(the corpus strips them): :func:`take_accelerator` removes a text's first one and
:func:`put_accelerator` marks a word of the translation that starts with the same letter
(any case), else the same letter inside a word, else the first letter:
``&Open`` -> ``&Ouvrir``, ``&Print`` -> ``Im&primer``, ``&Help`` -> ``&Aide``.

:func:`split_sentences` cuts a text into sentences and :func:`split_segments` also cuts
option lists into their entries, for texts too long for the model or long enough that it
translates them better in pieces.
All run inside the exported graph, so a served model treats placeholders as the
Python pipeline does.

Example:
    >>> protected, originals = protect(tf.constant(["Delete %s from {folder}?"]))
    >>> protected.numpy()
    array([b'Delete <ph0> from <ph1>?'], dtype=object)
    >>> restore(tf.constant(["Supprimer <ph0> de <ph1> ?"]), originals).numpy()
    array([b'Supprimer %s de {folder} ?'], dtype=object)
"""

import re

import tensorflow as tf

from tasks.translation.cleaning import ACCELERATOR, PLACEHOLDER, TAG

TOKEN = r"<ph[0-9]+>"
_TOKEN_RE = re.compile(r"<ph([0-9]+)>")
ENTITY = r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);"
# What protect() takes out of a raw text: real placeholders, markup tags, entities, and text
# that already looks like our own tokens (so a literal "<ph0>" cannot be confused with one
# and comes back as is).
PROTECTED = f"{PLACEHOLDER.pattern}|{TOKEN}|{TAG.pattern}|{ENTITY}"
# An accelerator: & _ or ~ right before a letter or digit, not after another marker or a
# word character (so "AT&T", "file_name" and "&&" are text). RE2 has no look-behind, so
# the graph matches the character before it too; Python's twin is cleaning.ACCELERATOR.
_ACCEL_BEFORE = r"(?:^|[^&_~\pL\pN])"
_ACCEL = r"[&_~][\pL\pN]"
_PROTECTED_RE = re.compile(PROTECTED)
# A sentence ends at . ! ? or … (then closing quotes/brackets, French-spaced or not)
# followed by a space.
SENTENCE_END = r"[.!?…]+(?: ?[\"'»”’)\]])*[ \t\n\r\f\v]+"
_SENTENCE_RE = re.compile(f"({SENTENCE_END})")
# One entry of a command-line option list ("-a, --all  show everything"): an option, its
# long form and argument name if any, then a word of its description. A sentence holding
# two or more is translated entry by entry (see split_segments). RE2 has no look-ahead, so
# the match starts at the space before the option (or the text's start) and the option
# is kept in group 1.
OPTION_ENTRY = (r"(?:^|[ \t\n\r\f\v]+)(-{1,2}[A-Za-z0-9][A-Za-z0-9_-]*"
                r"(?:, ?-{1,2}[A-Za-z0-9][A-Za-z0-9_-]*)?(?:[= ][A-Z][A-Z_]*)? +[A-Za-z])")
_OPTION_RE = re.compile(OPTION_ENTRY)
_MARK = "\x00"
_ASCII_SPACE = " \t\n\v\f\r"  # what tf.strings.strip strips


def _split_marked(texts, pattern):
    """Strings [B] -> ragged parts [B, (2k+1)]: text, match, text, match, ..., text.

    NUL is the separator, so it is dropped from the text first (the tokenizer drops
    control characters anyway).
    """
    texts = tf.strings.regex_replace(texts, _MARK, "")
    marked = tf.strings.regex_replace(texts, f"({pattern})", f"{_MARK}\\1{_MARK}")
    return tf.strings.split(marked, _MARK)


def _odd(parts):
    return tf.ragged.range(parts.row_lengths()) % 2 == 1


def protect(texts):
    """Strings [B] -> (texts with ``<phN>`` tokens [B], original placeholders [B, (P)])."""
    texts = tf.convert_to_tensor(texts, tf.string)
    parts = _split_marked(texts, PROTECTED)
    odd = _odd(parts)
    number = tf.ragged.range(parts.row_lengths()) // 2
    tokens = tf.strings.join(["<ph", tf.strings.as_string(number.flat_values), ">"])
    joined = parts.with_flat_values(tf.where(odd.flat_values, tokens, parts.flat_values))
    originals = tf.ragged.boolean_mask(parts, odd)
    return tf.strings.reduce_join(joined, axis=1), originals


def restore(texts, originals):
    """Model outputs with ``<phN>`` [B] + originals [B, (P)] -> strings [B].

    Each placeholder appears exactly once: the first ``<phN>`` of each N < P is
    replaced by its original, later copies and unknown numbers are removed, and
    missing ones are appended (space-separated) at the end.
    """
    texts = tf.convert_to_tensor(texts, tf.string)
    parts = _split_marked(texts, TOKEN)
    odd = _odd(parts)
    rows = tf.cast(parts.value_rowids(), tf.int64)
    flat = parts.flat_values
    digits = tf.strings.regex_replace(flat, "[^0-9]", "")
    number = tf.strings.to_number(tf.where(odd.flat_values & (digits != ""), digits, "-1"),
                                  tf.int64)
    counts = originals.row_lengths()
    valid = odd.flat_values & (number >= 0) & (number < tf.gather(counts, rows))
    # First occurrence per (row, number): the smallest position holding that key.
    key = tf.where(valid, rows * (tf.reduce_max(counts) + 1) + number, -1)
    unique, index = tf.unique(key)
    position = tf.range(tf.shape(key, out_type=tf.int64)[0])
    first = tf.gather(tf.math.unsorted_segment_min(position, index, tf.shape(unique)[0]), index)
    keep = valid & (position == first)
    # A trailing "" makes the gather safe when the batch has no placeholders at all.
    pool = tf.concat([originals.flat_values, [""]], 0)
    original = tf.gather(pool, tf.where(keep, tf.gather(originals.row_starts(), rows) + number,
                                        tf.size(pool, tf.int64) - 1))
    flat = tf.where(odd.flat_values, tf.where(keep, original, ""), flat)
    text = tf.strings.reduce_join(parts.with_flat_values(flat), axis=1)
    # Placeholders the model lost go at the end.
    emitted = tf.boolean_mask(key, keep)
    orig_rows = tf.cast(originals.value_rowids(), tf.int64)
    orig_key = orig_rows * (tf.reduce_max(counts) + 1) + (
        tf.cast(tf.ragged.range(counts).flat_values, tf.int64))
    present = tf.reduce_any(orig_key[:, None] == emitted[None, :], axis=1)
    missing = tf.ragged.boolean_mask(originals, originals.with_flat_values(~present))
    tail = tf.strings.reduce_join(tf.strings.join([" ", missing]), axis=1)
    text = tf.strings.strip(tf.strings.regex_replace(text, "  +", " "))
    return tf.strings.strip(tf.strings.join([text, tail]))


def take_accelerator(texts):
    """Strings [B] -> (strings without their first accelerator marker [B],
    marker and key [B], e.g. ``"&O"``, or ``""`` where there is none)."""
    texts = tf.convert_to_tensor(texts, tf.string)
    has = tf.strings.regex_full_match(texts, f"(?s).*?{_ACCEL_BEFORE}{_ACCEL}.*")
    accel = tf.strings.regex_replace(texts, f"(?s)^.*?{_ACCEL_BEFORE}({_ACCEL}).*$", r"\1")
    stripped = tf.strings.regex_replace(texts, f"(?s)^(.*?{_ACCEL_BEFORE})[&_~]", r"\1",
                                        replace_global=False)
    return tf.where(has, stripped, texts), tf.where(has, accel, "")


def put_accelerator(texts, accelerators):
    """Model outputs (with ``<phN>`` tokens) [B] + :func:`take_accelerator`'s [B] -> strings
    with the marker before the first word that starts with the key (any case), else before
    the first occurrence of the key, else before the first letter or digit; never inside a
    ``<phN>`` token; unchanged where there is no accelerator."""
    texts = tf.convert_to_tensor(texts, tf.string)
    accelerators = tf.convert_to_tensor(accelerators, tf.string)
    size = tf.strings.length(accelerators)
    marker = tf.strings.substr(accelerators, tf.zeros_like(size), tf.minimum(size, 1))
    key = tf.strings.lower(tf.strings.substr(accelerators, tf.minimum(size, 1), size - 1),
                           encoding="utf-8")
    # Tokens become as many \x01 bytes, so byte offsets still point into the real text.
    masked = texts
    for digits in (1, 2, 3):
        masked = tf.strings.regex_replace(masked, "<ph" + "[0-9]" * digits + ">", "\x01" * (digits + 4))
    chars, starts = tf.strings.unicode_split_with_offsets(masked, "UTF-8")
    keys = tf.gather(key, chars.value_rowids())
    same = tf.strings.lower(chars.flat_values, encoding="utf-8") == keys
    letter = tf.strings.regex_full_match(chars.flat_values, r"[\pL\pN]")
    flat = chars.flat_values
    row_first = tf.ragged.range(chars.row_lengths()).flat_values == 0
    word_start = letter & (row_first | ~tf.concat([[False], letter[:-1]], 0))
    never = tf.int64.max

    def first(where):
        return tf.reduce_min(starts.with_flat_values(tf.where(where, starts.flat_values, never)), 1)

    at = first(letter)
    for better in (same, same & word_start):
        found = first(better)
        at = tf.where(found < never, found, at)
    put = (accelerators != "") & (at < never)
    at = tf.cast(tf.where(put, at, 0), tf.int32)
    marked = tf.strings.join([tf.strings.substr(texts, tf.zeros_like(at), at), marker,
                              tf.strings.substr(texts, at, tf.strings.length(texts) - at)])
    return tf.where(put, marked, texts)


def split_sentences(texts):
    """Strings [B] -> ragged sentences [B, (n)] (each sentence keeps its end mark)."""
    texts = tf.convert_to_tensor(texts, tf.string)
    parts = _split_marked(texts, SENTENCE_END)
    # Glue each end mark to the sentence before it: part 2k + part 2k+1.
    ends = tf.concat([parts, tf.fill([parts.nrows(), 1], "")], axis=1)
    flat = ends.flat_values
    pairs = tf.RaggedTensor.from_row_lengths(
        tf.strings.join([tf.gather(flat, _pair_index(ends, 0)), tf.gather(flat, _pair_index(ends, 1))]),
        ends.row_lengths() // 2)
    pairs = tf.strings.strip(pairs)
    return tf.ragged.boolean_mask(pairs, pairs != "")


def split_segments(texts):
    """Strings [B] -> ragged segments [B, (n)]: the sentences of each text, and a sentence
    that lists two or more command-line options (``-a, --all show ...``) cut before each.

    What the pipeline translates one by one in a long text: the model learned from
    catalog strings, mostly short, and loses its way in a long help text (on the held-out
    packages, chrF 32 on sources of 30 words and more against 62 on those under 5).
    """
    sentences = split_sentences(texts)
    flat = sentences.flat_values
    marked = tf.strings.regex_replace(flat, OPTION_ENTRY, _MARK + r"\1")
    entries = tf.strings.length(marked) - tf.strings.length(tf.strings.regex_replace(marked, _MARK, ""))
    parts = tf.strings.split(tf.where(entries >= 2, marked, flat), _MARK)
    parts = tf.strings.strip(parts)
    parts = tf.ragged.boolean_mask(parts, parts != "")
    return sentences.with_flat_values(parts).merge_dims(1, 2)


def _pair_index(parts, offset):
    """Flat indices of parts 2k + offset of each row (every row has an even count)."""
    within = tf.ragged.range(parts.row_lengths() // 2)
    return tf.gather(parts.row_starts(), within.value_rowids()) + within.flat_values * 2 + offset


# -- Python twins (the reference the graph is tested against) ----------------------------

def protect_py(text):
    """One str -> (text with ``<phN>``, list of original placeholders)."""
    originals = []

    def token(match):
        originals.append(match.group(0))
        return f"<ph{len(originals) - 1}>"

    return _PROTECTED_RE.sub(token, text.replace(_MARK, "")), originals


def restore_py(text, originals):
    used = set()

    def token(match):
        n = int(match.group(1))
        if n < len(originals) and n not in used:
            used.add(n)
            return originals[n]
        return ""

    text = re.sub("  +", " ", _TOKEN_RE.sub(token, text.replace(_MARK, ""))).strip(_ASCII_SPACE)
    tail = "".join(" " + p for i, p in enumerate(originals) if i not in used)
    return (text + tail).strip(_ASCII_SPACE)


def take_accelerator_py(text):
    match = ACCELERATOR.search(text)
    if match is None:
        return text, ""
    i = match.start()
    return text[:i] + text[i + 1:], text[i:i + 2]


def put_accelerator_py(text, accelerator):
    if not accelerator:
        return text
    masked = re.sub(r"<ph[0-9]{1,3}>", lambda m: "\x01" * len(m.group(0)), text)
    key = accelerator[1:].lower()
    same = [i for i, c in enumerate(masked) if c.lower() == key]
    starts = [i for i in same if i == 0 or not masked[i - 1].isalnum()]
    letters = [i for i, c in enumerate(masked) if c.isalnum()]
    at = (starts or same or letters or [None])[0]
    return text if at is None else text[:at] + accelerator[0] + text[at:]


def split_sentences_py(text):
    parts = _SENTENCE_RE.split(text.replace(_MARK, "")) + [""]
    sentences = [(parts[i] + parts[i + 1]).strip(_ASCII_SPACE) for i in range(0, len(parts) - 1, 2)]
    return [s for s in sentences if s]


def split_segments_py(text):
    segments = []
    for sentence in split_sentences_py(text):
        marked = _OPTION_RE.sub(_MARK + r"\1", sentence)
        if marked.count(_MARK) < 2:
            segments.append(sentence)
            continue
        segments.extend(p for p in (x.strip(_ASCII_SPACE) for x in marked.split(_MARK)) if p)
    return segments
