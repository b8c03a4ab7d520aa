"""Readers for parallel text: tab-separated pairs, Moses files, gettext .po/.mo catalogs.

Every reader returns a list of dicts with at least ``source`` and ``target``; the gettext
reader adds ``context``, ``fuzzy`` and ``plural`` so cleaning can decide what to keep.

Example:
    >>> pairs = read_tsv_pairs("fra.txt")                     # Anki / Tatoeba export
    >>> pairs = read_moses("train.en", "train.fr")
    >>> entries = read_gettext("/usr/share/locale/fr/LC_MESSAGES/apt.mo")
"""

import os

import polib
import tensorflow as tf

from tasks.core.data import text_lines


def read_tsv_pairs(path, source_column=0, target_column=1):
    """Tab-separated pairs, one per line (Anki/Tatoeba: ``en<TAB>fr<TAB>attribution``)."""
    pairs = []
    for lineno, line in text_lines(path):
        fields = line.split("\t")
        if len(fields) <= max(source_column, target_column):
            raise ValueError(f"{path}:{lineno}: expected at least "
                             f"{max(source_column, target_column) + 1} tab-separated fields")
        pairs.append({"source": fields[source_column], "target": fields[target_column]})
    return pairs


def read_moses(source_path, target_path):
    """Line-aligned Moses-style files (``train.en`` / ``train.fr``)."""
    for p in (source_path, target_path):
        if not os.path.isfile(p):
            raise ValueError(f"path {p!r} does not exist")
    with open(source_path, encoding="utf-8") as f:
        sources = f.read().split("\n")
    with open(target_path, encoding="utf-8") as f:
        targets = f.read().split("\n")
    if sources and sources[-1] == "":
        sources.pop()
    if targets and targets[-1] == "":
        targets.pop()
    if len(sources) != len(targets):
        raise ValueError(f"{source_path!r} has {len(sources)} lines but {target_path!r} has "
                         f"{len(targets)}; Moses files must be line-aligned")
    return [{"source": s, "target": t} for s, t in zip(sources, targets)]


def read_gettext(path):
    """A ``.po`` or compiled ``.mo`` catalog (parsed with polib).

    A plural entry yields two pairs: msgid -> msgstr[0] and msgid_plural -> msgstr[1]
    (French has two forms, ``plural=(n > 1)``). Obsolete entries are skipped here;
    fuzzy and untranslated ones are kept, flagged, for the cleaning step to count.
    """
    if not os.path.isfile(path):
        raise ValueError(f"path {path!r} does not exist")
    try:
        catalog = polib.mofile(path) if path.endswith(".mo") else polib.pofile(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path!r} is not a readable gettext catalog: {err}") from None
    entries = []
    for e in catalog:
        if getattr(e, "obsolete", False):
            continue
        base = {"context": e.msgctxt, "fuzzy": "fuzzy" in e.flags, "origin": os.path.basename(path)}
        if e.msgid_plural:
            forms = e.msgstr_plural
            entries.append({**base, "source": e.msgid, "target": forms.get(0, ""), "plural": True})
            entries.append({**base, "source": e.msgid_plural, "target": forms.get(1, forms.get(0, "")),
                            "plural": True})
        elif e.msgid:  # the header entry has an empty msgid
            entries.append({**base, "source": e.msgid, "target": e.msgstr, "plural": False})
    return entries


def make_dataset(pairs, batch_size=64, shuffle_buffer=0, seed=0):
    """Pairs -> tf.data of ``(source, target)`` string batches."""
    if not pairs:
        raise ValueError("pairs is empty")
    ds = tf.data.Dataset.from_tensor_slices(([p["source"] for p in pairs], [p["target"] for p in pairs]))
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def make_training_dataset(pairs, preprocessor, batch_size=64, training=False, seed=0,
                          repeat=False, bucket_boundaries=(16, 24, 32, 48, 64),
                          fixed_shapes=False):
    """Pairs -> tf.data of ``({"source", "target_in"}, labels)`` batches bucketed by length.

    Tokenised once with the preprocessor's graph tokenizer (then cached); pairs whose
    source or target does not fit the model's lengths are dropped. Each example is
    framed as :meth:`TranslationPreprocessor.training_batch` frames a batch (source
    ``x </s>``, decoder input ``<s> y``, labels ``y </s>``), padded only to its
    bucket. With ``training`` the order is shuffled from ``seed``. ``fixed_shapes``
    pads every batch to its bucket's boundary, so XLA compiles once per bucket.
    """
    from tasks.translation.tokenizer import END_ID, START_ID

    if not pairs:
        raise ValueError("pairs is empty")
    tokenizer = preprocessor.tokenizer
    ds = tf.data.Dataset.from_tensor_slices(([p["source"] for p in pairs],
                                             [p["target"] for p in pairs]))
    ds = ds.batch(1024).map(lambda s, t: (tokenizer(s), tokenizer(t))).unbatch()
    ds = ds.filter(lambda s, t: (tf.size(s) > 0) & (tf.size(t) > 0)
                   & (tf.size(s) < preprocessor.source_length)
                   & (tf.size(t) < preprocessor.target_length))
    ds = ds.map(lambda s, t: (tf.cast(s, tf.int32), tf.cast(t, tf.int32))).cache()
    if training:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def framed(s, t):
        end, start = tf.constant([END_ID]), tf.constant([START_ID])
        return {"source": tf.concat([s, end], 0), "target_in": tf.concat([start, t], 0)}, \
            tf.concat([t, end], 0)

    ds = ds.map(framed, num_parallel_calls=tf.data.AUTOTUNE)
    longest = max(preprocessor.source_length, preprocessor.target_length)
    boundaries = [b for b in bucket_boundaries if b < longest] + [longest + 1]
    ds = ds.bucket_by_sequence_length(
        lambda x, y: tf.maximum(tf.shape(x["source"])[0], tf.shape(y)[0]), boundaries,
        [batch_size] * (len(boundaries) + 1), pad_to_bucket_boundary=fixed_shapes)
    return ds.prefetch(tf.data.AUTOTUNE)
