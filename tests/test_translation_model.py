"""Translation models and task on tiny networks: the cached step equals the full
forward pass, beam 1 equals greedy, padding changes nothing, a tiny model memorises
its pairs, and save/load/export keep every output."""

import numpy as np
import pytest
import tensorflow as tf

from tasks.core.task import Task
from tasks.translation.data import make_training_dataset
from tasks.translation.task import TranslationTask
from tasks.translation.tokenizer import END_ID
from translation_fixtures import overfit, tiny_translation_task


@pytest.fixture(scope="module", params=["transformer", "rnn"])
def untrained(request, tiny_pairs):
    return tiny_translation_task(tiny_pairs, request.param)


def _batch(task, pairs):
    sources = tf.constant([p["source"] for p in pairs])
    targets = tf.constant([p["target"] for p in pairs])
    return task.preprocessor.training_batch(sources, targets)


def test_cached_step_equals_full_forward(untrained, tiny_pairs):
    x, _ = _batch(untrained, tiny_pairs[:4])
    seq2seq = untrained.model.get_layer("seq2seq")
    full = untrained.model(x).numpy()
    # the layers' own weights, and what decoding_step() precomputes for a search
    for step in (seq2seq.step, seq2seq.decoding_step()):
        state, context = seq2seq.decoding_state(x["source"])
        steps = []
        for t in range(12):
            logits, state = step(x["target_in"][:, t], state, t, context)
            steps.append(logits.numpy())
        np.testing.assert_allclose(np.stack(steps, 1), full[:, :12], atol=2e-5)


def test_fixed_size_caches_step_like_growing_ones(untrained, tiny_pairs):
    # the XLA form (caches of 16 positions written in place) against the growing one
    x, _ = _batch(untrained, tiny_pairs[:4])
    seq2seq = untrained.model.get_layer("seq2seq")
    grown, context = seq2seq.decoding_state(x["source"])
    fixed, fixed_context = seq2seq.decoding_state(x["source"], cache_length=16)
    for t in range(12):
        expected, grown = seq2seq.step(x["target_in"][:, t], grown, t, context)
        logits, fixed = seq2seq.step(x["target_in"][:, t], fixed, t, fixed_context)
        np.testing.assert_allclose(logits.numpy(), expected.numpy(), atol=2e-5)
    if untrained.config["architecture"] == "transformer":
        assert fixed["self0"][0].shape[2] == 16 and grown["self0"][0].shape[2] == 12  # [rows, heads, t, dim]


def test_source_padding_changes_no_logit(untrained, tiny_pairs):
    x, _ = _batch(untrained, tiny_pairs[:4])
    trimmed = {"source": x["source"][:, :50], "target_in": x["target_in"]}
    np.testing.assert_allclose(untrained.model(trimmed).numpy(), untrained.model(x).numpy(), atol=2e-5)


def test_label_padding_changes_no_loss(untrained, tiny_pairs):
    x, y = _batch(untrained, tiny_pairs[:4])
    loss = untrained.loss()
    n = int(tf.reduce_max(tf.reduce_sum(tf.cast(y != 0, tf.int32), axis=1)))
    assert n < y.shape[1]
    short = loss(y[:, :n], untrained.model({"source": x["source"], "target_in": x["target_in"][:, :n]}))
    longer = loss(y, untrained.model(x))
    np.testing.assert_allclose(float(short), float(longer), rtol=1e-5)


def test_beam_one_equals_greedy(untrained, tiny_pairs):
    source = untrained.preprocessor.source_ids(tf.constant([p["source"] for p in tiny_pairs]))
    from tasks.core import decoding
    seq2seq = untrained.model.get_layer("seq2seq")
    state, context = seq2seq.decoding_state(source[:, :60])
    greedy = decoding.greedy_search(seq2seq.step, state, 2, END_ID, 20, context=context)
    ids, _ = decoding.beam_search(seq2seq.step, state, 2, END_ID, 20, beam_width=1, context=context)
    np.testing.assert_array_equal(ids.numpy(), greedy.numpy())


def test_beams_of_a_batch_decode_like_each_example_alone(overfit_translation_task, tiny_pairs):
    # Beams share each example's cross-attention context: a wrong row -> example mapping
    # would mix sources.
    task = overfit_translation_task
    source = task.preprocessor.source_ids(tf.constant([p["source"] for p in tiny_pairs[:5]]))
    generate = tf.function(lambda ids: task.generate(ids, beam_width=3),
                           input_signature=[tf.TensorSpec([None, None], tf.int32)])
    together = generate(source).numpy()
    alone = np.concatenate([generate(source[i:i + 1]).numpy() for i in range(5)])
    np.testing.assert_array_equal(together, alone)


def test_training_batches_are_framed_like_the_preprocessor(untrained, tiny_pairs):
    ds = make_training_dataset(tiny_pairs, untrained.preprocessor, batch_size=8)
    rows = [(x["source"][i], x["target_in"][i], y[i]) for x, y in ds for i in range(y.shape[0])]
    assert len(rows) == len(tiny_pairs)  # bucketed by length, none lost
    ref_x, ref_y = _batch(untrained, tiny_pairs)
    unpad = lambda t: [v for v in t.numpy().tolist() if v]  # noqa: E731
    expected = sorted((unpad(ref_x["source"][i]), unpad(ref_x["target_in"][i]), unpad(ref_y[i]))
                      for i in range(len(tiny_pairs)))
    assert sorted((unpad(a), unpad(b), unpad(c)) for a, b, c in rows) == expected


def test_too_long_pairs_are_dropped(untrained, tiny_pairs):
    task = tiny_translation_task(tiny_pairs, source_length=24, target_length=24)
    ds = make_training_dataset(tiny_pairs, task.preprocessor, batch_size=8)
    kept = sum(int(x["source"].shape[0]) for x, _ in ds)
    assert 0 < kept < len(tiny_pairs)


def test_xla_decoding_translates_like_the_plain_graph(overfit_translation_task, tiny_pairs):
    # fixed shapes: sources padded to buckets, one XLA search per bucket, outputs padded back.
    # Beam search decodes in chunks of 4 texts in length order, so the short chunk and the
    # long one take different buckets; greedy search decodes all texts in one chunk (the
    # longest bucket), which saves XLA compilations of a bucket logic it shares.
    task = overfit_translation_task
    texts = [p["source"] for p in tiny_pairs] + ["", " ".join(p["source"] for p in tiny_pairs[3:8])]
    lengths = sorted(len(task.preprocessor.tokenizer.encode_py(t)) for t in texts)
    assert len(texts) > 4 and max(lengths[:4]) <= 8 and 16 < lengths[-1]  # several buckets
    for beam, chunk in ((1, len(texts)), (3, 4)):
        xla = TranslationTask({**task.config, "decode_batch_size": chunk},
                              preprocessor=task.preprocessor, model=task.model, jit_compile=True)
        assert xla.use_jit() and not task.use_jit()
        assert xla.translate(texts, beam_width=beam) == task.translate(texts, beam_width=beam)
    with pytest.raises(ValueError, match="jit_compile"):
        TranslationTask(task.config, preprocessor=task.preprocessor, model=task.model,
                        jit_compile="yes").use_jit()


def test_constrained_decoding_emits_each_source_placeholder_once(overfit_translation_task,
                                                                  tiny_pairs):
    import collections
    import re

    task = overfit_translation_task
    constrained = TranslationTask(task.config, preprocessor=task.preprocessor, model=task.model,
                                  constrain_placeholders=True)
    unconstrained = TranslationTask(task.config, preprocessor=task.preprocessor, model=task.model,
                                    constrain_placeholders=False)
    texts = ["<ph0> Base line <ph1>", "List <ph2> of <ph0> operators", "<ph3>", "Base line"]
    found = lambda text: collections.Counter(re.findall(r"<ph[0-9]+>", text))  # noqa: E731
    for beam in (1, 3):
        out = [s.decode() for s in constrained.translate_protected(texts, beam).numpy()]
        assert [found(o) for o in out] == [found(t) for t in texts], out
    # the unconstrained tiny model loses or repeats some of them (what the constraint fixes)
    plain = [s.decode() for s in unconstrained.translate_protected(texts, 1).numpy()]
    assert [found(o) for o in plain] != [found(t) for t in texts], plain


def test_tiny_transformer_memorises_its_pairs(overfit_translation_task, tiny_pairs):
    result = overfit_translation_task.evaluate(tiny_pairs, beam_width=1)
    assert result["translations"] == [p["target"] for p in tiny_pairs]
    assert result["bleu"] > 99 and result["placeholder_preservation"] == 100.0
    assert result["placeholder_sentences"] == 3
    beam = overfit_translation_task.evaluate(tiny_pairs, beam_width=3)["translations"]
    assert beam == result["translations"]


def test_tiny_rnn_learns_its_pairs(tiny_pairs):
    pairs = tiny_pairs[3:]  # the five short ones: the RNN learns them in a few seconds
    task = overfit(tiny_translation_task(pairs, "rnn"), pairs, steps=200, learning_rate=1e-2)
    assert task.evaluate(pairs, beam_width=1)["chrf"] > 90


def test_long_text_is_split_into_sentences(overfit_translation_task, tiny_pairs):
    a, b = tiny_pairs[3], tiny_pairs[4]  # two short labels, translated alone
    task = overfit_translation_task
    alone = task.translate([a["source"], b["source"]], beam_width=1)
    long_text = " ".join([a["source"] + "."] + [b["source"] + "."] * 20)
    n = len(task.preprocessor.tokenizer.encode_py(long_text))
    assert n > task.config["source_length"]
    out = task.translate([long_text], beam_width=1)[0]
    assert out.count(alone[1].rstrip(".")) >= 15  # each sentence went through the model


def test_long_text_is_translated_segment_by_segment(overfit_translation_task, tiny_pairs):
    task = overfit_translation_task
    a, b = tiny_pairs[3]["source"] + ".", tiny_pairs[4]["source"] + "."
    text = " ".join([a, b] * 3)
    assert len(text.split()) >= task.config["segment_words"]
    alone = task.translate([a, b], beam_width=1)
    assert task.translate([text], beam_width=1) == [" ".join(alone * 3)]


def test_save_load_and_export_keep_outputs(overfit_translation_task, saved_translation_dir,
                                           exported_translation_dir):
    from tasks.translation.task import ExportedTranslator

    texts = ["Delete %s from {dir}?", "Base line", "", "List of operators"]
    expected = overfit_translation_task.translate(texts)
    assert Task.load(saved_translation_dir).translate(texts) == expected
    exported = ExportedTranslator(exported_translation_dir)
    assert exported.translate(texts) == expected
    assert exported.translate(texts[1:2]) == expected[1:2]
    assert expected[2] == ""


def test_load_under_another_dtype_policy_keeps_the_weights(overfit_translation_task,
                                                           saved_translation_dir, tiny_pairs):
    # bfloat16 inference of a float32-trained model: the same network rebuilt under the
    # policy, its float32 variables carried over, and it still translates what it learned
    task = Task.load(saved_translation_dir, dtype_policy="mixed_bfloat16")
    assert task.model.get_layer("seq2seq").compute_dtype == "bfloat16"
    assert all(w.dtype == np.float32 for w in task.model.get_weights())
    for a, b in zip(task.model.get_weights(), overfit_translation_task.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert task.evaluate(tiny_pairs[3:], beam_width=1)["chrf"] > 90
    assert Task.load(saved_translation_dir).model.get_layer("seq2seq").compute_dtype == "float32"
    with pytest.raises(ValueError, match="policy"):
        task.with_dtype_policy("half")


def test_a_shallower_student_keeps_the_chosen_decoder_blocks(tiny_pairs):
    options = {"hidden_dim": 32, "encoder_layers": 1, "decoder_layers": 3, "num_heads": 2,
               "intermediate_dim": 64, "dropout": 0.0}
    teacher = tiny_translation_task(tiny_pairs, options=options)
    x, _ = _batch(teacher, tiny_pairs[:3])
    same = teacher.with_decoder_layers([0, 1, 2])
    np.testing.assert_allclose(same.model(x).numpy(), teacher.model(x).numpy(), atol=1e-6)
    student = teacher.with_decoder_layers([2])
    assert student.config["options"]["decoder_layers"] == 1
    assert student.config["vocabulary"] == teacher.config["vocabulary"]
    mine, theirs = student.model.get_layer("seq2seq"), teacher.model.get_layer("seq2seq")
    for a, b in zip(mine.decoder_blocks[0].get_weights(), theirs.decoder_blocks[2].get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(mine.encoder_blocks[0].get_weights(), theirs.encoder_blocks[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert student.model.count_params() < teacher.model.count_params()
    for bad in ([], [3], [-1]):
        with pytest.raises(ValueError, match="decoder_blocks"):
            teacher.with_decoder_layers(bad)
    with pytest.raises(ValueError, match="architecture"):
        tiny_translation_task(tiny_pairs, "rnn").with_decoder_layers([0])
