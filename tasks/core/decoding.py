"""Greedy and beam search over a cached, incremental step function.

One implementation for every sequence task. A model supplies
``step_fn(token_ids [batch], state, index) -> (logits [batch, vocab], state)`` where
``state`` is any nest of tensors whose first axis is the batch (e.g. attention
key/value caches and the encoder output). Each step feeds exactly one new token,
so decoding costs O(length) decoder steps, never a re-run over the whole prefix.
Both searches are ``tf.while_loop``s: they trace into a ``tf.function``, compile
with XLA and export into a SavedModel.

Example:
    >>> tokens = greedy_search(step_fn, state, start_id=2, end_id=3, max_length=16)
    >>> tokens, scores = beam_search(step_fn, state, 2, 3, 16, beam_width=4)
"""

import tensorflow as tf

NEG_INF = -1e9


def _batch_size(state):
    return tf.shape(tf.nest.flatten(state)[0])[0]


def _write_column(buffer, index, values):
    """buffer[..., index] = values, as a one-hot blend (XLA friendly)."""
    one_hot = tf.one_hot(index, tf.shape(buffer)[-1], dtype=buffer.dtype)
    return buffer * (1 - one_hot) + values[..., None] * one_hot


def _keep_shapes(body):
    """Give loop outputs the static shapes of the loop inputs (tf.while_loop demands it)."""

    def wrapped(*loop_vars):
        outputs = body(*loop_vars)
        return tf.nest.map_structure(lambda out, inp: tf.ensure_shape(out, inp.shape), outputs,
                                     loop_vars)

    return wrapped


def greedy_search(step_fn, state, start_id, end_id, max_length, pad_id=0):
    """Arg-max decoding. Returns int32 ``[batch, max_length]`` (no start token)."""
    batch = _batch_size(state)
    tokens = tf.fill([batch], tf.constant(start_id, tf.int32))
    output = tf.fill([batch, max_length], tf.constant(pad_id, tf.int32))
    finished = tf.zeros([batch], tf.bool)

    def cond(t, tokens, state, output, finished):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, tokens, state, output, finished):
        logits, state = step_fn(tokens, state, t)
        next_tokens = tf.argmax(logits, axis=-1, output_type=tf.int32)
        next_tokens = tf.where(finished, pad_id, next_tokens)
        output = _write_column(output, t, next_tokens)
        return t + 1, next_tokens, state, output, finished | (next_tokens == end_id)

    _, _, _, output, _ = tf.while_loop(
        cond, _keep_shapes(body), (tf.constant(0), tokens, state, output, finished),
        maximum_iterations=max_length,
    )
    return output


def length_penalty(lengths, alpha):
    """GNMT length normalisation ((5 + len) / 6) ** alpha; alpha=0 disables it."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def beam_search(step_fn, state, start_id, end_id, max_length, beam_width=4, alpha=0.6, pad_id=0):
    """Beam search with GNMT length penalty ``alpha``.

    Returns ``(tokens int32 [batch, max_length], scores float32 [batch])`` for the best
    beam. ``beam_width=1`` gives exactly the greedy result.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    k = beam_width
    batch = _batch_size(state)
    state = tf.nest.map_structure(lambda x: tf.repeat(x, k, axis=0), state)
    log_probs = tf.tile(tf.constant([[0.0] + [NEG_INF] * (k - 1)]), [batch, 1])
    sequences = tf.fill([batch, k, max_length], tf.constant(pad_id, tf.int32))
    lengths = tf.zeros([batch, k], tf.int32)
    finished = tf.zeros([batch, k], tf.bool)
    tokens = tf.fill([batch * k], tf.constant(start_id, tf.int32))

    def cond(t, tokens, state, log_probs, sequences, lengths, finished):
        return (t < max_length) & ~tf.reduce_all(finished)

    def body(t, tokens, state, log_probs, sequences, lengths, finished):
        logits, state = step_fn(tokens, state, t)
        vocab = tf.shape(logits)[-1]
        step_lp = tf.reshape(tf.nn.log_softmax(tf.cast(logits, tf.float32)), [batch, k, vocab])
        # A finished beam may only emit padding, at no cost, so it keeps its score.
        pad_only = tf.where(tf.range(vocab) == pad_id, 0.0, NEG_INF)
        step_lp = tf.where(finished[..., None], pad_only[None, None, :], step_lp)
        candidates = log_probs[..., None] + step_lp
        new_lengths = lengths + tf.cast(~finished, tf.int32)
        ranking = candidates / length_penalty(new_lengths, alpha)[..., None]
        _, flat_index = tf.math.top_k(tf.reshape(ranking, [batch, k * vocab]), k=k)
        beam_index, token_index = flat_index // vocab, flat_index % vocab
        log_probs = tf.gather(tf.reshape(candidates, [batch, k * vocab]), flat_index, batch_dims=1)
        sequences = tf.gather(sequences, beam_index, batch_dims=1)
        sequences = _write_column(sequences, t, token_index)
        lengths = tf.gather(new_lengths, beam_index, batch_dims=1)
        finished = tf.gather(finished, beam_index, batch_dims=1) | (token_index == end_id)
        rows = tf.reshape(beam_index + tf.range(batch)[:, None] * k, [-1])
        state = tf.nest.map_structure(lambda x: tf.gather(x, rows), state)
        return t + 1, tf.reshape(token_index, [-1]), state, log_probs, sequences, lengths, finished

    loop_vars = (tf.constant(0), tokens, state, log_probs, sequences, lengths, finished)
    _, _, _, log_probs, sequences, lengths, _ = tf.while_loop(
        cond, _keep_shapes(body), loop_vars, maximum_iterations=max_length
    )
    scores = log_probs / length_penalty(lengths, alpha)
    best = tf.argmax(scores, axis=-1, output_type=tf.int32)
    return tf.gather(sequences, best, batch_dims=1), tf.gather(scores, best, batch_dims=1)
