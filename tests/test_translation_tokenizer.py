"""The subword tokenizer: the graph equals the Python reference, decoding restores text
byte for byte, and unknown characters pass through."""

import json

import keras
import pytest
import tensorflow as tf

from tasks.translation.tokenizer import (BYTE_OFFSET, END_ID, FIRST_PIECE_ID, PAD_ID, UNK_ID,
                                         SubwordTokenizer, frame, learn_vocabulary, normalize_py,
                                         pretokenize_py)

TRICKY = [
    "", " ", "Fichier : « rapport.txt » ; taille ?", "L’archive n’existe pas !",
    "C'est « fini »… vraiment ?", "  leading and   inner\tspaces\n", "emoji 😀 and 🇫🇷 flags",
    "日本語のテキスト", "e\u0301 combining accent", "tab\tand\u00a0nbsp\u202fthin",
    "<ph0> at start, <ph12> and <ph99>", "x86_64/amd64 --force-all=[y/n]", "100 % %%",
    "ctrl\x00chars\x07here",
]


@pytest.fixture(scope="module")
def texts(heldout_pairs):
    return [p["source"] for p in heldout_pairs] + [p["target"] for p in heldout_pairs] + TRICKY


@pytest.fixture(scope="module", params=[2000, 300], ids=["vocab2000", "vocab300"])
def tokenizer(request, heldout_pairs):
    corpus = [p["source"] for p in heldout_pairs] + [p["target"] for p in heldout_pairs]
    return SubwordTokenizer(learn_vocabulary(corpus, request.param))


def test_graph_tokenizer_equals_python_on_the_whole_heldout_split(tokenizer, texts):
    graph = tokenizer.tokenize(tf.constant(texts)).to_list()
    python = [tokenizer.encode_py(t) for t in texts]
    assert len(texts) > 3000
    mismatches = [(t, p, g) for t, p, g in zip(texts, python, graph) if p != g]
    assert not mismatches, mismatches[:3]


def test_graph_tokenizer_is_the_same_inside_a_tf_function(tokenizer, texts):
    fn = tf.function(lambda x: tokenizer.tokenize(x).to_tensor(-1))
    ragged = tokenizer.tokenize(tf.constant(texts[:200])).to_tensor(-1)
    assert (fn(tf.constant(texts[:200])).numpy() == ragged.numpy()).all()


def test_detokenisation_restores_text_exactly(tokenizer, texts):
    python = [tokenizer.decode_py(tokenizer.encode_py(t)) for t in texts]
    assert python == [normalize_py(t) for t in texts]
    ragged = tokenizer.tokenize(tf.constant(texts))
    ids = frame(ragged, int(ragged.row_lengths().numpy().max()) + 1)
    graph = [s.decode("utf-8") for s in tokenizer.detokenize(ids).numpy()]
    assert graph == python


def test_french_typography_round_trips(tokenizer):
    for text in ["Attention : fichier « a.txt » introuvable ; réessayer ?", "Voulez-vous quitter ?",
                 "L’option « --all » n’est pas reconnue !", "Taille : 10 Mo"]:
        assert tokenizer.decode_py(tokenizer.encode_py(text)) == text


def test_unknown_characters_fall_back_to_bytes_never_unk(tokenizer):
    ids = tokenizer.encode_py("emoji 😀 日本")
    assert UNK_ID not in ids
    assert [i - BYTE_OFFSET for i in ids if BYTE_OFFSET <= i < FIRST_PIECE_ID][:4] == list("😀".encode())
    assert tokenizer.decode_py(ids) == "emoji 😀 日本"


def test_placeholders_are_single_tokens(tokenizer):
    assert len(tokenizer.encode_py("<ph0>")) == 1
    ids = tokenizer.encode_py("Delete <ph3> now")
    assert tokenizer._index["▁<ph3>"] in ids


def test_pretokenizer_keeps_spaces_inside_words():
    assert pretokenize_py("Save <ph0> files?") == ["▁Save", "▁<ph0>", "▁files", "?"]
    assert pretokenize_py("Fichier : « x »") == ["▁Fichier", "▁:", "▁«", "▁x", "▁»"]
    assert pretokenize_py("   ") == []


def test_detokenize_stops_at_end_and_skips_padding(tokenizer):
    ids = tokenizer.encode_py("bonjour le monde")
    row = ids + [END_ID] + tokenizer.encode_py(" junk") + [PAD_ID]
    assert tokenizer.decode_py(row) == "bonjour le monde"
    assert tokenizer.detokenize(tf.constant([row, [PAD_ID] * len(row)])).numpy().tolist() == [
        b"bonjour le monde", b""]


def test_frame_cuts_and_pads():
    ragged = tf.ragged.constant([[10, 11, 12, 13], [10]])
    assert frame(ragged, 4).numpy().tolist() == [[10, 11, 12, END_ID], [10, END_ID, 0, 0]]
    assert frame(ragged, 4, start=True, end=False).numpy().tolist() == [[2, 10, 11, 12], [2, 10, 0, 0]]


def test_config_round_trips_through_json(tokenizer):
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(tokenizer)))
    clone = keras.saving.deserialize_keras_object(config, safe_mode=True)
    text = "Impossible d’ouvrir « <ph0> » : 😀"
    assert clone.encode_py(text) == tokenizer.encode_py(text)
    assert clone.tokenize(tf.constant([text])).to_list() == tokenizer.tokenize(tf.constant([text])).to_list()
