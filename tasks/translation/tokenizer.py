"""Reversible subword tokenizer whose encoder and decoder are core TensorFlow ops.

The vocabulary is learned with the Hugging Face ``tokenizers`` BPE trainer; encoding is
greedy longest-match over those pieces (the WordPiece rule), which a graph can run
exactly: candidate substrings are looked up in a ``StringLookup`` table and one
``tf.while_loop`` walks every word of the batch at once. A stock TF Serving binary
runs it (no tensorflow-text ops).

Reversible by construction, like SentencePiece: spaces become ``▁`` and stay inside the
pieces, so decoding is concatenation; case, punctuation and French typography come back
byte for byte. A character with no piece (an emoji, a rare script) falls back to its
UTF-8 bytes, each a token of its own, so nothing becomes ``<unk>``.

Ids: 0 padding, 1 unknown (never produced), 2 start, 3 end, 4..259 the 256 bytes, then
the pieces. The corpus's placeholders ``<phN>`` (N < ``PLACEHOLDER_TOKENS``) are single
tokens, with and without a leading space.

Example:
    >>> vocabulary = learn_vocabulary(["Open the file.", "Ouvrir le fichier."], size=300)
    >>> tok = SubwordTokenizer(vocabulary)
    >>> ids = tok.encode_py("Ouvrir « fichier » !")
    >>> tok.decode_py(ids)
    'Ouvrir « fichier » !'
"""

import functools
import re

import keras
import tensorflow as tf

SPACE = "\u2581"
PAD, UNK, START, END = "<pad>", "<unk>", "<s>", "</s>"
PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
BYTE_OFFSET = 4
FIRST_PIECE_ID = BYTE_OFFSET + 256
PLACEHOLDER_TOKENS = 16
MAX_PIECE_CHARS = 16
# Characters that always stand alone (optionally after a space): ASCII punctuation and
# the typographic marks of English and French text.
_PUNCT = "!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~«»‹›“”„‘’‚…–—·•¡¿§°€£"
_WHITESPACE = "[\t\n\v\f\r \u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000]+"
# Leftmost-first alternation: RE2 (the graph) and Python's re agree on it.
WORD = f"{SPACE}?<ph[0-9]+>|{SPACE}?[^{SPACE}{_PUNCT}]+|{SPACE}?[{_PUNCT}]|{SPACE}"
_WORD_RE = re.compile(WORD)
_WHITESPACE_RE = re.compile(_WHITESPACE)
_CONTROL = "[\x00-\x08\x0e-\x1f\x7f]"
_CONTROL_RE = re.compile(_CONTROL)


def normalize_py(text):
    """Control characters dropped, whitespace runs -> one space, ends stripped."""
    return _WHITESPACE_RE.sub(" ", _CONTROL_RE.sub("", text)).strip(" ")


def pretokenize_py(text):
    """Text -> words, each a run of characters that pieces never cross.

    >>> pretokenize_py("Save <ph0> files?")
    ['▁Save', '▁<ph0>', '▁files', '?']
    """
    text = normalize_py(text)
    return _WORD_RE.findall(SPACE + text.replace(" ", SPACE)) if text else []


def learn_vocabulary(texts, size=8000, min_frequency=2, max_alphabet=300):
    """Learn ``size`` pieces (BPE merges and their alphabet) from ``texts``.

    The most frequent ``max_alphabet`` characters become pieces; rarer ones are
    left to the byte fallback. Returns a list of str, most useful first.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    reserved = [f"{space}<ph{i}>" for i in range(PLACEHOLDER_TOKENS) for space in ("", SPACE)]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(vocab_size=size, min_frequency=min_frequency,
                                  limit_alphabet=max_alphabet, special_tokens=reserved,
                                  max_token_length=MAX_PIECE_CHARS, show_progress=False)
    tokenizer.train_from_iterator((" ".join(pretokenize_py(t)) for t in texts), trainer)
    vocab = tokenizer.get_vocab()
    return [p for p, _ in sorted(vocab.items(), key=lambda kv: kv[1])]


def _utf8_bytes(code_points):
    """Code points [N] -> UTF-8 bytes [N, 4] (int32, -1 where a char has fewer bytes)."""
    cp = tf.cast(code_points, tf.int32)
    shift, mask, lor = tf.bitwise.right_shift, tf.bitwise.bitwise_and, tf.bitwise.bitwise_or
    cont = lambda n: lor(0x80, mask(shift(cp, n), 0x3F))  # noqa: E731
    none = -tf.ones_like(cp)
    one = tf.stack([cp, none, none, none], -1)
    two = tf.stack([lor(0xC0, shift(cp, 6)), cont(0), none, none], -1)
    three = tf.stack([lor(0xE0, shift(cp, 12)), cont(6), cont(0), none], -1)
    four = tf.stack([lor(0xF0, shift(cp, 18)), cont(12), cont(6), cont(0)], -1)
    return tf.where((cp < 0x80)[:, None], one, tf.where(
        (cp < 0x800)[:, None], two, tf.where((cp < 0x10000)[:, None], three, four)))


@keras.saving.register_keras_serializable(package="tasks")
class SubwordTokenizer(keras.layers.Layer):
    """Strings -> ragged piece ids, and ids -> strings; :func:`frame` pads them."""

    def __init__(self, vocabulary, **kwargs):
        super().__init__(**kwargs)
        reserved = {PAD, UNK, START, END}
        self.vocabulary = [p for p in vocabulary if p and p not in reserved]
        self.max_piece_chars = max(len(p) for p in self.vocabulary) if self.vocabulary else 1
        self._index = {p: i + FIRST_PIECE_ID for i, p in enumerate(self.vocabulary)}
        # Index 0 is the lookup's out-of-vocabulary slot: piece ids are lookup - 1 + offset.
        self._lookup = keras.layers.StringLookup(vocabulary=self.vocabulary, num_oov_indices=1,
                                                 mask_token=None, name="pieces")
        piece_bytes = [b""] * FIRST_PIECE_ID + [p.encode() for p in self.vocabulary]
        for b in range(256):
            piece_bytes[BYTE_OFFSET + b] = bytes([b])
        self._piece_bytes = piece_bytes
        self._pieces = tf.constant(piece_bytes, tf.string)
        self.built = True

    @property
    def vocabulary_size(self):
        return FIRST_PIECE_ID + len(self.vocabulary)

    def placeholder_ids(self):
        """``[[id of "<phN>", id of "▁<phN>"], ...]`` for N < ``PLACEHOLDER_TOKENS`` (-1
        where the vocabulary lacks a form): the two pieces that stand for placeholder N."""
        return [[self._index.get(f"{space}<ph{n}>", -1) for space in ("", SPACE)]
                for n in range(PLACEHOLDER_TOKENS)]

    # -- Python twins (reference and fast path for corpora) --------------------------------
    @functools.lru_cache(maxsize=200_000)  # noqa: B019 - the tokenizer is immutable
    def _encode_word(self, word):
        ids, i = [], 0
        while i < len(word):
            for length in range(min(self.max_piece_chars, len(word) - i), 0, -1):
                piece = self._index.get(word[i:i + length])
                if piece is not None:
                    ids.append(piece)
                    i += length
                    break
            else:
                ids.extend(BYTE_OFFSET + b for b in word[i].encode("utf-8"))
                i += 1
        return tuple(ids)

    def encode_py(self, text):
        """One str -> list of ids (no framing, no cut): the reference for the graph."""
        return [i for w in pretokenize_py(text) for i in self._encode_word(w)]

    def decode_py(self, ids):
        """Ids -> str; stops at ``</s>``, skips padding and other specials."""
        out = []
        for i in ids:
            i = int(i)
            if i == END_ID:
                break
            if i >= BYTE_OFFSET and i < len(self._piece_bytes):
                out.append(self._piece_bytes[i])
        text = b"".join(out).decode("utf-8", errors="replace").replace(SPACE, " ")
        return text[1:] if text.startswith(" ") else text

    # -- graph ------------------------------------------------------------------------------
    def words(self, texts):
        """Strings [B] -> ragged words [B, (W)] (the graph twin of :func:`pretokenize_py`)."""
        texts = tf.strings.regex_replace(texts, _CONTROL, "")
        texts = tf.strings.strip(tf.strings.regex_replace(texts, _WHITESPACE, " "))
        marked = tf.strings.regex_replace(SPACE + tf.strings.regex_replace(texts, " ", SPACE),
                                          f"({WORD})", "\x00\\1")
        words = tf.strings.split(marked, "\x00")
        # The first field is empty (the text starts with a separator). A lone dummy
        # space only arises from an empty text: normalised text has no double spaces.
        return tf.ragged.boolean_mask(words, (words != "") & (words != SPACE))

    def _encode_unique_words(self, words):
        """Words [N] -> ragged ids [N, (k)] by greedy longest match, all words at once."""
        chars = tf.strings.unicode_split(words, "UTF-8", errors="replace")
        lengths = tf.cast(chars.row_lengths(), tf.int32)
        chars = chars.to_tensor("")
        width = tf.shape(chars)[1]
        padded = tf.pad(chars, [[0, 0], [0, self.max_piece_chars]])
        positions = tf.range(width)[None, :]
        best_len = tf.zeros_like(chars, tf.int32)
        best_id = tf.zeros_like(chars, tf.int32)
        piece = tf.fill(tf.shape(chars), "")
        for k in range(self.max_piece_chars):
            piece = tf.strings.join([piece, padded[:, k:k + width]])
            found = tf.cast(self._lookup(piece), tf.int32)
            hit = (found > 0) & (positions + k + 1 <= lengths[:, None])
            best_len = tf.where(hit, k + 1, best_len)
            best_id = tf.where(hit, found - 1 + FIRST_PIECE_ID, best_id)

        count = tf.shape(words)[0]
        rows = tf.range(count)

        def body(t, pos, units):
            index = tf.stack([rows, tf.minimum(pos, width - 1)], -1)
            active = pos < lengths
            units = units.write(t, tf.where(active, pos, -1))
            step = tf.maximum(tf.gather_nd(best_len, index), 1)
            return t + 1, tf.where(active, pos + step, pos), units

        _, _, units = tf.while_loop(
            lambda t, pos, units: tf.reduce_any(pos < lengths), body,
            (0, tf.zeros([count], tf.int32), tf.TensorArray(tf.int32, size=0, dynamic_size=True)),
            maximum_iterations=width)
        units = tf.transpose(units.stack())  # [N, T]: start position of each emitted unit
        units = tf.reshape(units, [count, -1])
        valid = units >= 0
        index = tf.stack([tf.broadcast_to(rows[:, None], tf.shape(units)),
                          tf.maximum(units, 0)], -1)
        unit_len = tf.gather_nd(best_len, index)
        unit_id = tf.gather_nd(best_id, index)
        code_points = tf.strings.unicode_decode(tf.gather_nd(chars, index), "UTF-8",
                                                errors="replace").to_tensor(0)[..., 0]
        fallback = _utf8_bytes(tf.reshape(code_points, [-1]))
        fallback = tf.where(fallback >= 0, fallback + BYTE_OFFSET, -1)
        fallback = tf.reshape(fallback, tf.concat([tf.shape(units), [4]], 0))
        piece_unit = tf.stack([unit_id, -tf.ones_like(unit_id), -tf.ones_like(unit_id),
                               -tf.ones_like(unit_id)], -1)
        ids = tf.where((unit_len > 0)[..., None], piece_unit, fallback)
        ids = tf.where(valid[..., None], ids, -1)
        ids = tf.reshape(ids, [count, -1])
        return tf.ragged.boolean_mask(ids, ids >= 0)

    def tokenize(self, texts):
        """Strings [B] -> ragged ids [B, (n)], no framing, no cut (equals :meth:`encode_py`)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        words = self.words(texts)
        unique, where = tf.unique(words.flat_values)
        # One extra word, dropped after: a batch with no word at all (e.g. only control
        # characters) would otherwise give zero-size loops and shapes.
        encoded = self._encode_unique_words(tf.concat([unique, ["a"]], 0))[:-1]
        encoded = tf.gather(encoded, where)
        return tf.RaggedTensor.from_row_lengths(encoded, words.row_lengths()).merge_dims(1, 2)

    def call(self, texts):
        """Strings [B] -> ragged ids [B, (n)]: the pieces alone (see :func:`frame`)."""
        return self.tokenize(texts)

    def detokenize(self, ids):
        """Ids [B, L] -> strings [B]; stops at the first ``</s>`` (equals :meth:`decode_py`)."""
        ids = tf.convert_to_tensor(ids, tf.int32)
        after_end = tf.cumsum(tf.cast(ids == END_ID, tf.int32), axis=-1) > 0
        keep = (ids >= BYTE_OFFSET) & (ids < self.vocabulary_size) & ~after_end
        pieces = tf.where(keep, tf.gather(self._pieces, tf.where(keep, ids, 0)), "")
        text = tf.strings.reduce_join(pieces, axis=-1)
        text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace",
                                            replacement_char=0xFFFD)
        text = tf.strings.regex_replace(text, SPACE, " ")
        return tf.strings.regex_replace(text, "^ ", "")

    def get_config(self):
        return {**super().get_config(), "vocabulary": self.vocabulary}


def frame(ids, length, start=False, end=True):
    """Ragged ids [B, (n)] -> dense [B, length]: optional ``<s>``, pieces, ``</s>``, padding.

    Pieces are cut so the frame fits: texts longer than ``length`` lose their tail.
    """
    ids = tf.cast(ids, tf.int32)
    keep = length - int(start) - int(end)
    ids = ids[:, :keep]
    rows = ids.nrows()
    parts = ([tf.fill([rows, 1], START_ID)] if start else []) + [ids] + (
        [tf.fill([rows, 1], END_ID)] if end else [])
    ids = tf.concat(parts, axis=1) if len(parts) > 1 else ids
    return ids.to_tensor(default_value=PAD_ID, shape=[None, length])
