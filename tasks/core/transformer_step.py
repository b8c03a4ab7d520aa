"""Incremental decoding through keras-hub ``TransformerDecoder`` blocks.

keras-hub's own cached path keeps a fixed-size self-attention cache (rewritten in
full at every step) and per-row cross-attention caches, which beam search must then
copy for every beam and reorder after every step. Here the same block weights run
one query position at a time with:

- self-attention keys/values ``[rows, heads, t, head_dim]`` that grow by one position
  per step (``tasks.core.decoding`` lets a state axis that starts empty grow), so a
  step costs what the prefix needs;
- cross-attention keys/values computed once per *example* (``[batch, heads, S,
  head_dim]``) and shared by its beams: rows are examples times beams in
  example-major order, as ``tasks.core.decoding`` feeds them.

Caches are head-major so that both attention products are plain batched matmuls over
``[rows, heads]``: with the keras-hub layout ``[rows, t, heads, head_dim]`` the
einsums transposed every cache at every step, which made self-attention 3.5x slower
(256 rows, 20 positions, on 2 CPU cores).

With ``length`` given, :func:`empty_self_attention` instead makes fixed-size caches
``[rows, heads, length, head_dim]`` that the step writes at ``write_index`` and attends
over up to it: every shape stays static, as XLA needs to compile the decoding loop
(the growing form is faster without XLA, since a step then costs only the prefix).

The arithmetic is the block's inference forward pass (pre- or post-norm); the
captioning and translation tests hold the step equal to the full forward pass.

Example:
    >>> keys, values = cross_attention_context(block, memory)
    >>> state = empty_self_attention(block, batch, memory.dtype)
    >>> x, state = decoder_block_step(block, x, state, (keys, values), mask)
"""

import math

from keras import ops


def _heads(attention):
    return attention._num_heads, attention._key_dim


def _head_major(x):
    """``[rows, t, heads, head_dim]`` (a keras attention projection) -> ``[rows, heads, t, head_dim]``."""
    return ops.transpose(x, (0, 2, 1, 3))


def cross_attention_context(block, memory):
    """The block's cross-attention keys and values ``[B, heads, S, head_dim]`` for
    ``memory [B, S, hidden]``."""
    attention = block._cross_attention_layer
    return _head_major(attention._key_dense(memory)), _head_major(attention._value_dense(memory))


def self_attention_projection(block, dtype):
    """The block's self-attention query, key and value projections as one kernel
    ``[hidden, 3 * heads * head_dim]`` and bias, for ``decoder_block_step(...,
    projection=...)``.

    Build it once per search, outside its loop (a model's ``decoding_step``): one matmul then
    replaces three einsums and their bias additions at every step, which took the
    projections of 4 rows from 0.66 to 0.24 ms on 2 CPU cores (the same numbers).
    """
    dense = (block._self_attention_layer._query_dense, block._self_attention_layer._key_dense,
             block._self_attention_layer._value_dense)
    hidden = dense[0].kernel.shape[0]
    kernel = ops.concatenate([ops.reshape(d.kernel, (hidden, -1)) for d in dense], axis=1)
    biases = [ops.reshape(d.bias, (-1,)) if d.bias is not None
              else ops.zeros((ops.shape(kernel)[1] // 3,), kernel.dtype) for d in dense]
    return ops.cast(kernel, dtype), ops.cast(ops.concatenate(biases, axis=0), dtype)


def with_projections(step, blocks, dtype):
    """``step(tokens, state, index, context, projections)`` as a decoding step function
    ``(tokens, state, index, context)``, with each block's
    :func:`self_attention_projection` built once, here: call it where the search is
    traced, outside its loop.

    Example:
        >>> step_fn = with_projections(decoder.step, decoder.blocks, decoder.compute_dtype)
    """
    projections = [self_attention_projection(block, dtype) for block in blocks]

    def fused(tokens, state, index, context):
        return step(tokens, state, index, context, projections)

    return fused


def empty_self_attention(block, batch, dtype, length=0):
    """Self-attention keys and values ``[batch, heads, length, head_dim]``: empty ones
    that grow (``length=0``) or fixed-size ones for ``decoder_block_step(...,
    write_index=t)``."""
    heads, head_dim = _heads(block._self_attention_layer)
    empty = ops.zeros((batch, heads, length, head_dim), dtype)
    return empty, empty


def _sublayer(block, norm, x, fn):
    """Residual sub-layer with the block's normalisation placement."""
    y = fn(norm(x) if block.normalize_first else x)
    return x + y if block.normalize_first else norm(x + y)


def decoder_block_step(block, x, self_kv, cross_kv=None, cross_mask=None, write_index=None,
                       projection=None):
    """One position through ``block``: ``x [rows, 1, hidden]`` -> ``(x, (keys, values))``.

    ``self_kv``: this row's self-attention keys and values so far; the new position's
    are appended, or, with ``write_index`` (a scalar position), written into the
    fixed-size caches at that position, attending only up to it.
    ``cross_kv``: per-example cross-attention keys and values from
    :func:`cross_attention_context`; ``cross_mask``: bool ``[batch, S]``, True where the
    memory is real (None: all of it). ``projection``: the block's
    :func:`self_attention_projection` (None: the three projection layers are called).
    """
    attention = block._self_attention_layer
    heads, head_dim = _heads(attention)
    scale = 1.0 / math.sqrt(head_dim)
    grown = []

    def self_attend(h):
        # [rows, heads, 1, head_dim]: one query position per row
        if projection is None:
            query = _head_major(attention._query_dense(h))
            key, value = _head_major(attention._key_dense(h)), _head_major(attention._value_dense(h))
        else:
            # one position, so [rows, heads, 1, head_dim] is a reshape, not a transpose
            rows = ops.shape(h)[0]
            fused = ops.matmul(ops.reshape(h, (rows, -1)), projection[0]) + projection[1]
            query, key, value = ops.unstack(
                ops.reshape(fused, (rows, 3, heads, 1, head_dim)), num=3, axis=1)
        query = query * ops.cast(scale, h.dtype)
        if write_index is None:
            keys = ops.concatenate([self_kv[0], key], axis=2)
            values = ops.concatenate([self_kv[1], value], axis=2)
        else:
            # a one-hot blend: an elementwise write XLA fuses (no scatter)
            slot = ops.one_hot(write_index, ops.shape(self_kv[0])[2], dtype=h.dtype)
            slot = slot[None, None, :, None]
            keys = self_kv[0] * (1 - slot) + key * slot
            values = self_kv[1] * (1 - slot) + value * slot
        grown.append((keys, values))
        scores = ops.matmul(query, ops.swapaxes(keys, -1, -2))  # [rows, heads, 1, t]
        if write_index is not None:
            # float32 scores, as in cross-attention: the mask value cannot overflow
            seen = ops.arange(ops.shape(keys)[2]) <= write_index
            scores = ops.where(seen, ops.cast(scores, "float32"), -1e9)
        weights = ops.cast(ops.softmax(scores, axis=-1), h.dtype)
        return attention._output_dense(_head_major(ops.matmul(weights, values)))

    x = _sublayer(block, block._self_attention_layer_norm, x, self_attend)
    if cross_kv is not None:
        cross = block._cross_attention_layer
        cross_heads, cross_dim = _heads(cross)

        def cross_attend(h):
            rows, batch = ops.shape(h)[0], ops.shape(cross_kv[0])[0]
            query = cross._query_dense(h) * ops.cast(1.0 / math.sqrt(cross_dim), h.dtype)
            # the beams of an example are its query positions: [batch, heads, beams, dim]
            query = _head_major(ops.reshape(query, (batch, rows // batch, cross_heads, cross_dim)))
            # float32 scores: the mask value cannot overflow under mixed precision
            scores = ops.cast(ops.matmul(query, ops.swapaxes(cross_kv[0], -1, -2)), "float32")
            if cross_mask is not None:
                scores = ops.where(cross_mask[:, None, None, :], scores, -1e9)
            weights = ops.cast(ops.softmax(scores, axis=-1), h.dtype)
            attended = _head_major(ops.matmul(weights, cross_kv[1]))  # [batch, beams, heads, dim]
            return cross._output_dense(ops.reshape(attended, (rows, 1, cross_heads, cross_dim)))

        x = _sublayer(block, block._cross_attention_layer_norm, x, cross_attend)
    x = _sublayer(block, block._feedforward_layer_norm, x,
                  lambda h: block._feedforward_output_dense(block._feedforward_intermediate_dense(h)))
    return x, grown[0]
