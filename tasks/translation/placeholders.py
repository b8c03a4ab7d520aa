"""Placeholders and long texts around the model, in core TF ops (with Python twins).

Software strings carry placeholders (``%s``, ``%1$d``, ``{name}``, ``%(count)s``,
``$1`` ...) that must come out exactly as they went in. :func:`protect` numbers them
in order of appearance as the corpus's ``<phN>`` tokens (the numbering the cleaning
step gave the training data); :func:`restore` puts the originals back, keeping the
first copy of each, dropping invented or repeated ones and appending any the model
lost, so every placeholder of the source appears exactly once in the output.

:func:`split_sentences` cuts a text into sentences, for texts too long for the model.
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

from tasks.translation.cleaning import PLACEHOLDER

TOKEN = r"<ph[0-9]+>"
_TOKEN_RE = re.compile(r"<ph([0-9]+)>")
# What protect() takes out of a raw text: real placeholders, and text that already looks
# like our own tokens (so a literal "<ph0>" cannot be confused with one and comes back as is).
PROTECTED = f"{PLACEHOLDER.pattern}|{TOKEN}"
_PROTECTED_RE = re.compile(PROTECTED)
# A sentence ends at . ! ? or … (then closing quotes/brackets, French-spaced or not)
# followed by a space.
SENTENCE_END = r"[.!?…]+(?: ?[\"'»”’)\]])*[ \t\n\r\f\v]+"
_SENTENCE_RE = re.compile(f"({SENTENCE_END})")
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


def split_sentences_py(text):
    parts = _SENTENCE_RE.split(text.replace(_MARK, "")) + [""]
    sentences = [(parts[i] + parts[i + 1]).strip(_ASCII_SPACE) for i in range(0, len(parts) - 1, 2)]
    return [s for s in sentences if s]
