"""Greedy and beam search on a hand-built step function with known answers."""

import numpy as np
import pytest
import tensorflow as tf

from tasks.core.decoding import beam_search, greedy_search, in_length_order, top_k

START, END, PAD = 2, 3, 0
V = 6


def table_step(table):
    """step_fn whose next-token log-probs depend only on the previous token."""
    log_probs = tf.math.log(tf.constant(table, tf.float32) + 1e-9)

    def step(tokens, state, index):
        state = {"count": state["count"] + 1, "memory": state["memory"]}
        return tf.gather(log_probs, tokens), state

    return step


def initial_state(batch=2):
    return {"count": tf.zeros([batch], tf.int32), "memory": tf.zeros([batch, 3, 4])}


# From <start>: greedy picks 4 (0.5) then is forced into a low-probability path;
# 5 (0.4) leads to <end> with certainty, so the best whole sequence starts with 5.
TRAP = np.zeros((V, V))
TRAP[START] = [0, 0, 0, 0, 0.5, 0.4 + 0.1]
TRAP[START] = [0, 0, 0, 0.0, 0.55, 0.45]
TRAP[4] = [0, 0, 0, 0.3, 0.35, 0.35]
TRAP[5] = [0, 0, 0, 1.0, 0, 0]
TRAP[END] = [1.0, 0, 0, 0, 0, 0]
TRAP[PAD] = [1.0, 0, 0, 0, 0, 0]


def test_greedy_follows_argmax_and_pads_after_end():
    out = greedy_search(table_step(TRAP), initial_state(), START, END, max_length=5).numpy()
    assert out.tolist() == [[4, 4, 4, 4, 4]] * 2  # 4 -> 4 (0.35 tie-broken to the first)


def test_beam_finds_the_better_sequence():
    out, scores = beam_search(table_step(TRAP), initial_state(), START, END, 5, beam_width=3, alpha=0.0)
    assert out.numpy().tolist() == [[5, END, PAD, PAD, PAD]] * 2
    np.testing.assert_allclose(scores.numpy(), np.log(0.45), rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_width_one_equals_greedy(alpha):
    rng = np.random.default_rng(0)
    table = rng.random((V, V))
    table /= table.sum(-1, keepdims=True)
    step = table_step(table)
    greedy = greedy_search(step, initial_state(3), START, END, 7)
    beam, _ = beam_search(step, initial_state(3), START, END, 7, beam_width=1, alpha=alpha)
    np.testing.assert_array_equal(greedy, beam)


def test_length_penalty_prefers_longer_finished_beams():
    table = np.zeros((V, V))
    table[START] = [0, 0, 0, 0.5, 0.5, 0]       # end now, or continue
    table[4] = [0, 0, 0, 0.9, 0, 0.1]
    table[5] = [0, 0, 0, 1.0, 0, 0]
    table[END] = table[PAD] = [1.0, 0, 0, 0, 0, 0]
    short, _ = beam_search(table_step(table), initial_state(1), START, END, 4, beam_width=2, alpha=0.0)
    long_, _ = beam_search(table_step(table), initial_state(1), START, END, 4, beam_width=2, alpha=3.0)
    assert short.numpy()[0, 0] == END
    assert long_.numpy()[0].tolist()[:2] == [4, END]


def test_searches_run_inside_tf_function_and_xla():
    step = table_step(TRAP)

    @tf.function(jit_compile=True)
    def run(memory):
        state = {"count": tf.zeros([tf.shape(memory)[0]], tf.int32), "memory": memory}
        g = greedy_search(step, state, START, END, 5)
        b, _ = beam_search(step, state, START, END, 5, beam_width=2)
        return g, b

    g, b = run(tf.zeros([2, 3, 4]))
    assert g.shape == (2, 5) and b.shape == (2, 5)
    g3, _ = run(tf.zeros([3, 3, 4]))  # a new batch size
    assert g3.shape == (3, 5)


def test_state_is_carried_per_beam():
    def step(tokens, state, index):
        # logits depend on the state so a wrong beam gather would change the answer
        logits = tf.one_hot(tf.minimum(state["count"] + 4, 5), V) * 5.0
        logits = tf.where(index >= 2, tf.one_hot(tf.fill(tf.shape(tokens), END), V) * 9.0, logits)
        return logits, {"count": state["count"] + 1}

    out, _ = beam_search(step, {"count": tf.zeros([2], tf.int32)}, START, END, 5, beam_width=3)
    assert out.numpy()[0].tolist() == [4, 5, END, PAD, PAD]


def test_bad_beam_width():
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(table_step(TRAP), initial_state(), START, END, 4, beam_width=0)


@pytest.mark.parametrize("beam_width", [1, 3])
def test_limits_stop_each_row_at_its_own_length(beam_width):
    limits = tf.constant([2, 5])
    if beam_width == 1:
        out = greedy_search(table_step(TRAP), initial_state(), START, END, 5, limits=limits)
    else:
        # without the end token in reach (alpha 0 keeps the 4-4-4 path best), only the
        # limit can stop a row
        table = TRAP.copy()
        table[START] = [0, 0, 0, 0, 1.0, 0]
        table[4] = [0, 0, 0, 0, 1.0, 0]
        out, _ = beam_search(table_step(table), initial_state(), START, END, 5, beam_width=3,
                             alpha=0.0, limits=limits)
    assert out.numpy().tolist() == [[4, 4, PAD, PAD, PAD], [4, 4, 4, 4, 4]]


@pytest.mark.parametrize("beam_width", [1, 2])
def test_state_axes_that_start_empty_may_grow(beam_width):
    def step(tokens, state, index):
        history = tf.concat([state["history"], tokens[:, None]], axis=1)  # [rows, t + 1]
        # the end token once the history (start token included) holds three tokens
        logits = tf.where(tf.shape(history)[1] >= 3, tf.one_hot(END, V), tf.one_hot(4, V)) * 9.0
        return tf.broadcast_to(logits, [tf.shape(tokens)[0], V]), {"history": history}

    state = {"history": tf.zeros([2, 0], tf.int32)}
    out = (greedy_search(step, state, START, END, 6) if beam_width == 1
           else beam_search(step, state, START, END, 6, beam_width=beam_width)[0])
    assert out.numpy().tolist() == [[4, 4, END, PAD, PAD, PAD]] * 2


@pytest.mark.parametrize("beam_width", [1, 3])
def test_context_is_shared_by_the_beams_of_each_example(beam_width):
    context = {"token": tf.constant([4, 5])}  # per example, never repeated per beam

    def step(tokens, state, index, context):
        rows = tf.shape(tokens)[0]
        example = tf.range(rows) // (rows // tf.shape(context["token"])[0])
        wanted = tf.where(index == 0, tf.gather(context["token"], example), END)
        return tf.one_hot(wanted, V) * 9.0, state

    out = (greedy_search(step, {}, START, END, 4, context=context) if beam_width == 1
           else beam_search(step, {}, START, END, 4, beam_width=beam_width, context=context)[0])
    assert out.numpy().tolist() == [[4, END, PAD, PAD], [5, END, PAD, PAD]]


def test_exact_counts_emit_each_required_token_once_before_ending():
    from tasks.core.decoding import exact_counts

    # Unconstrained, every row says 5 then ends (TRAP); token 4 repeats forever.
    # Row 0 must emit one token of group {4} and none of {5}; row 1 nothing of either.
    counts = tf.constant([[1, 0], [0, 0]])
    for search in ("greedy", "beam"):
        step, state = exact_counts(table_step(TRAP), initial_state(), counts, [[4, -1], [5, -1]],
                                   V, END)
        if search == "greedy":
            out = greedy_search(step, state, START, END, 5).numpy()
        else:
            out = beam_search(step, state, START, END, 5, beam_width=3, alpha=0.0)[0].numpy()
        assert out[0].tolist() == [4, END, PAD, PAD, PAD], search  # 4 once, then <end>
        assert not {4, 5} & set(out[1].tolist()), search  # nothing of either group
    plain = greedy_search(table_step(TRAP), initial_state(), START, END, 5).numpy()
    assert plain[0].tolist() == [4, 4, 4, 4, 4]  # what the constraint changed


def test_exact_counts_fit_missing_tokens_before_the_length_limit():
    from tasks.core.decoding import exact_counts

    # 4 repeats forever (greedy); 5 is required once; each row may emit 3 tokens
    limits = tf.constant([3, 3])
    step, state = exact_counts(table_step(TRAP), initial_state(), tf.constant([[1], [1]]),
                               [[5]], V, END, limits=limits)
    out = greedy_search(step, state, START, END, 5, limits=limits).numpy()
    assert out.tolist() == [[4, 4, 5, PAD, PAD]] * 2  # 5 forced into the last slot
    step, state = exact_counts(table_step(TRAP), initial_state(), tf.constant([[1], [1]]),
                               [[5]], V, END)  # no limits given: the cut row misses it
    out = greedy_search(step, state, START, END, 5, limits=limits).numpy()
    assert out.tolist() == [[4, 4, 4, PAD, PAD]] * 2


def reference_beam_search(table, batch, k, max_length, alpha, limits):
    """The textbook search in numpy: all k * vocab continuations ranked at every step, and
    every beam run until it ends or reaches its example's limit."""
    log_table = np.log(np.asarray(table, np.float64) + 1e-9)
    vocabulary = log_table.shape[1]
    penalty = lambda n: ((5.0 + n) / 6.0) ** alpha  # noqa: E731
    outputs, scores = [], []
    for b in range(batch):
        log_probs = np.array([0.0] + [-1e9] * (k - 1))
        sequences, lengths = np.zeros((k, max_length), int), np.zeros(k, int)
        finished, tokens = np.full(k, limits[b] <= 0), np.full(k, START)
        for t in range(max_length):
            if finished.all():
                break
            step = log_table[tokens].copy()
            step[finished] = -1e9
            step[finished, PAD] = 0.0
            candidates = log_probs[:, None] + step
            new_lengths = lengths + ~finished
            ranking = (candidates / penalty(new_lengths)[:, None]).ravel()
            best = np.argsort(-ranking, kind="stable")[:k]
            beam, tokens = best // vocabulary, best % vocabulary
            log_probs = candidates.ravel()[best]
            sequences = sequences[beam]
            sequences[:, t] = tokens
            lengths = new_lengths[beam]
            finished = finished[beam] | (tokens == END) | (t + 1 >= limits[b])
        final = log_probs / penalty(lengths)
        outputs.append(sequences[np.argmax(final)])
        scores.append(final.max())
    return np.array(outputs), np.array(scores)


@pytest.mark.parametrize("drop_finished", [False, True])
@pytest.mark.parametrize("alpha,beam_width", [(0.0, 2), (0.6, 3), (1.5, 3)])
def test_beam_search_equals_the_textbook_search(alpha, beam_width, drop_finished):
    # Ranking each beam's best k tokens and freezing examples whose best finished beam no
    # live beam can overtake are shortcuts: the results must not change.
    rng = np.random.default_rng(int(alpha * 10) + beam_width)
    limits = np.array([8, 3, 6, 8, 1])
    for _ in range(5):
        table = rng.dirichlet(np.full(V, 0.3), size=V)
        table[:, START] = 0.0
        table /= table.sum(-1, keepdims=True)
        out, scores = beam_search(table_step(table), initial_state(5), START, END, 8,
                                  beam_width=beam_width, alpha=alpha, limits=limits,
                                  drop_finished=drop_finished)
        want, want_scores = reference_beam_search(table, 5, beam_width, 8, alpha, limits)
        np.testing.assert_array_equal(out.numpy(), want)
        np.testing.assert_allclose(scores.numpy(), want_scores, rtol=1e-4)


@pytest.mark.parametrize("width", [2048, 2053, 3000])  # 2053: prime, padded
def test_top_k_equals_tf_top_k_with_ties_and_minus_infinity(width):
    # Few distinct values, so most of the top k are ties that must go to the lower index.
    rng = np.random.default_rng(width)
    values = rng.integers(0, 40, size=(7, width)).astype(np.float32)
    values[0] = -np.inf
    values[1, : width - 2] = -np.inf  # fewer finite entries than k in the last block
    values[2, rng.integers(0, width, size=3)] = 100.0
    for k in (1, 2, 4):
        want = tf.math.top_k(values, k)
        got = top_k(tf.constant(values), k)
        np.testing.assert_array_equal(got[0].numpy(), want[0].numpy())
        np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())


def test_beam_search_over_a_large_vocabulary_equals_the_textbook_search():
    # 2,100 tokens: the two-stage top-k path (the small tables above use tf.math.top_k)
    rng = np.random.default_rng(7)
    size = 2100
    table = rng.dirichlet(np.full(size, 0.05), size=size)
    table[:, START] = 0.0
    table[:, END] += 0.02
    table /= table.sum(-1, keepdims=True)
    limits = np.array([6, 2, 6])
    out, scores = beam_search(table_step(table), initial_state(3), START, END, 6,
                              beam_width=4, alpha=0.6, limits=limits)
    want, want_scores = reference_beam_search(table, 3, 4, 6, 0.6, limits)
    np.testing.assert_array_equal(out.numpy(), want)
    np.testing.assert_allclose(scores.numpy(), want_scores, rtol=1e-4)


@pytest.mark.parametrize("beam_width", [1, 2])
def test_finished_examples_leave_the_step_and_the_others_keep_their_rows(beam_width):
    # Example e ends after e + 1 tokens. Its id travels in the state (per row) and in
    # the context (per example): both must stay aligned with the rows as examples drop.
    ids = tf.constant([2, 0, 3, 1])
    rows_seen = tf.Variable(0)

    def step(tokens, state, index, context):
        tf.debugging.assert_equal(tf.shape(tokens)[0] % tf.shape(context["id"])[0], 0)
        beams = tf.shape(tokens)[0] // tf.shape(context["id"])[0]
        tf.debugging.assert_equal(state["id"], tf.repeat(context["id"], beams))
        rows_seen.assign_add(tf.shape(tokens)[0])
        wanted = tf.where(index >= state["id"], END, 4)
        return tf.one_hot(wanted, V) * 9.0, state

    def run(drop):
        rows_seen.assign(0)
        search = (lambda *a, **kw: greedy_search(*a, **kw)) if beam_width == 1 else (
            lambda *a, **kw: beam_search(*a, beam_width=beam_width, **kw)[0])
        out = tf.function(lambda: search(step, {"id": ids}, START, END, 6,
                                         context={"id": ids}, drop_finished=drop))()
        return out.numpy().tolist(), int(rows_seen.numpy())

    kept, all_rows = run(False)
    dropped, live_rows = run(True)
    assert dropped == kept == [[4, 4, END, 0, 0, 0], [END, 0, 0, 0, 0, 0],
                               [4, 4, 4, END, 0, 0], [4, END, 0, 0, 0, 0]]
    assert all_rows == 4 * 4 * beam_width  # every row until the last example ends
    assert live_rows == (4 + 3 + 2 + 1) * beam_width  # only the live examples' rows


def test_beam_search_stops_once_no_live_beam_can_win():
    # <end> at 0.9 from the start; the other beams could wander on to the length cap,
    # but their scores can only fall below the finished one's.
    table = np.zeros((V, V))
    table[START] = [0, 0, 0, 0.9, 0.05, 0.05]
    table[4] = table[5] = [0, 0, 0, 0.02, 0.49, 0.49]
    table[END] = table[PAD] = [1.0, 0, 0, 0, 0, 0]
    out, _ = beam_search(table_step(table), initial_state(1), START, END, 40, beam_width=3)
    assert out.numpy()[0, :2].tolist() == [END, PAD]
    calls = tf.Variable(0)
    step = table_step(table)

    def counted(tokens, state, index):
        calls.assign_add(1)
        return step(tokens, state, index)

    tf.function(lambda: beam_search(counted, initial_state(1), START, END, 40, beam_width=3))()
    assert calls.numpy() <= 3  # not 40


@pytest.mark.parametrize("chunk_size", [1, 3, 64])
def test_in_length_order_decodes_sorted_chunks_and_keeps_the_input_order(chunk_size):
    rng = np.random.default_rng(chunk_size)
    lengths = rng.integers(1, 9, size=10)
    inputs = np.stack([np.pad(np.arange(1, n + 1) * 10 + i, (0, 8 - n)) for i, n in enumerate(lengths)])

    def search(chunk):  # rows unchanged: the output must come back in input order
        return chunk

    out = in_length_order(search, tf.constant(inputs, tf.int32), tf.constant(lengths), chunk_size)
    np.testing.assert_array_equal(out.numpy(), inputs)
    chunks = tf.function(lambda x, n: in_length_order(
        lambda c: tf.concat([c[:, :1], tf.fill([tf.shape(c)[0], 1], tf.reduce_max(c))], 1),
        x, n, chunk_size))(tf.constant(inputs, tf.int32), tf.constant(lengths))
    # a chunk's maximum is shared by its rows: rows of one chunk have neighbouring lengths
    order = np.argsort(lengths, kind="stable")
    groups = [order[i:i + chunk_size] for i in range(0, 10, chunk_size)]
    for group in groups:
        assert len(set(chunks.numpy()[group, 1].tolist())) == 1
        assert chunks.numpy()[group, 1][0] == inputs[group].max()
    empty = in_length_order(search, tf.zeros([0, 8], tf.int32), tf.zeros([0], tf.int32), 4)
    assert empty.shape[0] == 0
    with pytest.raises(ValueError, match="chunk_size"):
        in_length_order(search, tf.constant(inputs), tf.constant(lengths), 0)
