"""Translation networks: a Transformer encoder-decoder and an attentional RNN seq2seq.

The training graph is a Keras functional model
``{"source": int [B, S], "target_in": int [B, T]} -> logits [B, T, V]`` around one
``seq2seq`` layer. Both layers expose the same decoding interface:
``encode(source) -> (memory, mask)``, ``decoding_state(source) -> (state, context)`` and
``step(tokens, state, index, context) -> (logits, state)``, the cached one-token step that
``tasks.core.decoding`` drives (``decoding_step()`` returns it with whatever it can
precompute for a whole search); training and decoding share every weight, and tests
hold the step equal to the forward pass. Source, target and output share one embedding matrix
(a joint vocabulary), which saves a third of the parameters of a small model.

Example:
    >>> model = build_translation_model(vocabulary_size=600, source_length=32, target_length=32)
    >>> model({"source": tf.ones([2, 32], "int32"), "target_in": tf.ones([2, 32], "int32")}).shape
    TensorShape([2, 32, 600])
"""

import functools
import math

import keras
import keras_hub
from keras import layers, ops

from tasks.core import transformer_step
from tasks.translation.tokenizer import PAD_ID


def _embedding(vocabulary_size, hidden_dim):
    # N(0, d^-1/2) and a sqrt(d) scale on input: unit-variance inputs and logits of a
    # sensible size through the tied output projection.
    return keras_hub.layers.ReversibleEmbedding(
        vocabulary_size, hidden_dim, tie_weights=True,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=hidden_dim ** -0.5),
        name="shared_embedding")


def output_kernel(embedding, dtype):
    """The tied embedding's output projection as a ``[hidden, vocab]`` kernel, for a
    decoding step's ``output_kernel``.

    Build it once per search, outside its loop (a model's ``decoding_step``): the layer
    transposes ``[vocab, hidden]`` inside every call, which grappler folds into a matmul
    with a transposed operand; that took the logits of 64 rows from 0.91 to 0.59 ms a
    step on 2 CPU cores against a plain ``[hidden, vocab]`` one.
    """
    if not embedding.tie_weights or embedding.logit_soft_cap is not None:
        raise ValueError("output_kernel needs a tied embedding without a logit soft cap")
    return ops.cast(ops.transpose(embedding.embeddings), dtype)


def _project(embedding, x, kernel):
    """Logits (float32) of ``x [..., hidden]`` through the tied embedding, or through
    :func:`output_kernel`'s ``kernel`` (a 2-D ``x``) when given."""
    logits = embedding(x, reverse=True) if kernel is None else ops.matmul(x, kernel)
    return ops.cast(logits, "float32")


@keras.saving.register_keras_serializable(package="tasks")
class TransformerSeq2Seq(layers.Layer):
    """Pre-norm Transformer encoder-decoder (keras-hub blocks, cached self-attention)."""

    def __init__(self, vocabulary_size, source_length, target_length, hidden_dim=256,
                 encoder_layers=3, decoder_layers=3, num_heads=4, intermediate_dim=1024,
                 dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.source_length = source_length
        self.target_length = target_length
        self.hidden_dim = hidden_dim
        self.encoder_layers = encoder_layers
        self.decoder_layers = decoder_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.embedding = _embedding(vocabulary_size, hidden_dim)
        self.source_positions = keras_hub.layers.PositionEmbedding(source_length,
                                                                   name="source_positions")
        self.target_positions = keras_hub.layers.PositionEmbedding(target_length,
                                                                   name="target_positions")
        self.embedding_dropout = layers.Dropout(dropout)
        self.encoder_blocks = [
            keras_hub.layers.TransformerEncoder(intermediate_dim, num_heads, dropout=dropout,
                                                normalize_first=True, name=f"encoder{i}")
            for i in range(encoder_layers)]
        self.encoder_norm = layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")
        self.decoder_blocks = [
            keras_hub.layers.TransformerDecoder(intermediate_dim, num_heads, dropout=dropout,
                                                normalize_first=True, name=f"decoder{i}")
            for i in range(decoder_layers)]
        self.decoder_norm = layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")

    def build(self, input_shape):
        source_shape, target_shape = input_shape
        self.embedding.build(source_shape)
        src = (source_shape[0], source_shape[1], self.hidden_dim)
        tgt = (target_shape[0], target_shape[1], self.hidden_dim)
        self.source_positions.build(src)
        self.target_positions.build(tgt)
        for block in self.encoder_blocks:
            block.build(src)
        self.encoder_norm.build(src)
        for block in self.decoder_blocks:
            block.build(tgt, src)
        self.decoder_norm.build(tgt)
        self.built = True

    def _embed(self, ids, positions, start_index=0, training=None):
        x = self.embedding(ids) * ops.cast(math.sqrt(self.hidden_dim), self.compute_dtype)
        x = x + positions(x, start_index=start_index)
        return self.embedding_dropout(x, training=training)

    def encode(self, source, training=None):
        """Source ids [B, S] -> (memory [B, S, hidden], padding mask [B, S])."""
        mask = ops.not_equal(source, PAD_ID)
        x = self._embed(source, self.source_positions, training=training)
        for block in self.encoder_blocks:
            x = block(x, padding_mask=mask, training=training)
        return self.encoder_norm(x), mask

    def _logits(self, x, kernel=None):
        return _project(self.embedding, self.decoder_norm(x), kernel)

    def call(self, inputs, training=None):
        source, target_in = inputs
        memory, mask = self.encode(source, training=training)
        x = self._embed(target_in, self.target_positions, training=training)
        for block in self.decoder_blocks:
            x = block(x, memory, encoder_padding_mask=mask, training=training)
        return self._logits(x)

    def _head_dim(self):
        return self.hidden_dim // self.num_heads

    def decoding_state(self, source, cache_length=None):
        """Source ids [B, S] -> ``(state, context)`` for :meth:`step` and
        ``tasks.core.decoding``: per-row self-attention keys and values that start
        empty and grow (or, with ``cache_length``, fixed-size ones of that many
        positions, for decoding compiled with XLA), and per-example cross-attention keys
        and values (computed once, shared by all beams) with the source mask."""
        memory, mask = self.encode(source)
        batch = ops.shape(memory)[0]
        state, context = {}, {"mask": mask}
        if cache_length is not None:
            # its presence tells step() to write into the fixed-size caches
            context["cache_length"] = ops.convert_to_tensor(cache_length, "int32")
        for i, block in enumerate(self.decoder_blocks):
            context[f"cross{i}"] = transformer_step.cross_attention_context(block, memory)
            state[f"self{i}"] = transformer_step.empty_self_attention(
                block, batch, memory.dtype, cache_length or 0)
        return state, context

    def decoding_step(self):
        """:meth:`step` for ``tasks.core.decoding``, each block's fused self-attention
        projection (``transformer_step.with_projections``) and the :func:`output_kernel`
        built once per search."""
        step = functools.partial(self.step,
                                 output_kernel=output_kernel(self.embedding, self.compute_dtype))
        return transformer_step.with_projections(step, self.decoder_blocks, self.compute_dtype)

    def step(self, tokens, state, index, context, projections=None, output_kernel=None):
        """Feed one token per row at position ``index``; returns (logits, state).

        Rows are examples times beams in example-major order (``tasks.core.decoding``).
        ``projections``, ``output_kernel``: see :meth:`decoding_step` (None: the layers'
        own weights are used as they are).
        """
        x = self._embed(tokens[:, None], self.target_positions, start_index=index)
        new_state = {}
        for i, block in enumerate(self.decoder_blocks):
            x, new_state[f"self{i}"] = transformer_step.decoder_block_step(
                block, x, state[f"self{i}"], context[f"cross{i}"], context["mask"],
                write_index=index if "cache_length" in context else None,
                projection=None if projections is None else projections[i])
        return self._logits(x[:, 0], output_kernel), new_state

    def cross_attention(self, source, target_in):
        """Last decoder block's cross-attention ``[B, heads, T, S]`` (for plots).

        keras-hub's cached attention returns no scores, so this recomputes them from
        the block's own projections (same weights, same scaling).
        """
        memory, mask = self.encode(source)
        x = self._embed(target_in, self.target_positions)
        for block in self.decoder_blocks[:-1]:
            x = block(x, memory, encoder_padding_mask=mask)
        block = self.decoder_blocks[-1]
        length = ops.shape(x)[1]
        causal = ops.tril(ops.ones((length, length), "bool"))[None]
        h = block._self_attention_layer_norm(x)
        x = x + block._self_attention_layer(query=h, value=h, attention_mask=causal)
        attention = block._cross_attention_layer
        q = attention._query_dense(block._cross_attention_layer_norm(x))
        k = attention._key_dense(memory)
        scores = ops.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self._head_dim())
        scores = ops.where(mask[:, None, None, :], scores, -1e9)
        return ops.softmax(scores, axis=-1)

    def copy_weights_from(self, other, decoder_blocks):
        """Take every weight of ``other`` (a built ``TransformerSeq2Seq`` of the same widths),
        with decoder block ``i`` of this layer copied from ``other``'s block
        ``decoder_blocks[i]``: a shallower decoder started from a trained one."""
        if len(decoder_blocks) != len(self.decoder_blocks):
            raise ValueError(f"decoder_blocks must name {len(self.decoder_blocks)} of the other "
                             f"model's blocks, got {list(decoder_blocks)}")
        if not all(0 <= i < len(other.decoder_blocks) for i in decoder_blocks):
            raise ValueError(f"decoder_blocks must be in 0..{len(other.decoder_blocks) - 1}, "
                             f"got {list(decoder_blocks)}")
        pairs = [(self.embedding, other.embedding), (self.source_positions, other.source_positions),
                 (self.target_positions, other.target_positions),
                 (self.encoder_norm, other.encoder_norm), (self.decoder_norm, other.decoder_norm)]
        pairs += list(zip(self.encoder_blocks, other.encoder_blocks))
        pairs += [(mine, other.decoder_blocks[i]) for mine, i in zip(self.decoder_blocks,
                                                                      decoder_blocks)]
        for mine, theirs in pairs:
            mine.set_weights(theirs.get_weights())

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "source_length": self.source_length, "target_length": self.target_length,
                "hidden_dim": self.hidden_dim, "encoder_layers": self.encoder_layers,
                "decoder_layers": self.decoder_layers, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="tasks")
class RecurrentSeq2Seq(layers.Layer):
    """The classic encoder-decoder (Luong et al. 2015, arXiv 1508.04025).

    A bidirectional GRU/LSTM encoder; a unidirectional decoder whose state starts
    from the encoder's; global "general" attention over the encoder outputs with the
    decoder's current output as query, and ``tanh(W [context; output])`` before the
    (tied) output layer. Without input feeding, so teacher forcing runs the decoder
    RNN over the whole target at once and the one-token step computes the same.
    """

    def __init__(self, vocabulary_size, source_length, target_length, hidden_dim=256,
                 cell="gru", encoder_layers=1, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.vocabulary_size = vocabulary_size
        self.source_length = source_length
        self.target_length = target_length
        self.hidden_dim = hidden_dim
        self.cell = cell
        self.encoder_layers = encoder_layers
        self.dropout = dropout
        rnn = layers.GRU if cell == "gru" else layers.LSTM
        self.embedding = _embedding(vocabulary_size, hidden_dim)
        self.embedding_dropout = layers.Dropout(dropout)
        self.encoder_rnns = [
            layers.Bidirectional(rnn(hidden_dim // 2, return_sequences=True, return_state=True),
                                 name=f"encoder{i}")
            for i in range(encoder_layers)]
        self.decoder_rnn = rnn(hidden_dim, return_sequences=True, return_state=True,
                               name="decoder")
        self.attention_query = layers.Dense(hidden_dim, use_bias=False, name="attention_general")
        self.combine = layers.Dense(hidden_dim, activation="tanh", name="attention_combine")
        self.output_dropout = layers.Dropout(dropout)

    def build(self, input_shape):
        source_shape, target_shape = input_shape
        self.embedding.build(source_shape)
        src = (source_shape[0], source_shape[1], self.hidden_dim)
        tgt = (target_shape[0], target_shape[1], self.hidden_dim)
        for rnn in self.encoder_rnns:
            rnn.build(src)
        self.decoder_rnn.build(tgt)
        self.attention_query.build(tgt)
        self.combine.build((target_shape[0], target_shape[1], 2 * self.hidden_dim))
        self.built = True

    def _embed(self, ids, training=None):
        x = self.embedding(ids) * ops.cast(math.sqrt(self.hidden_dim), self.compute_dtype)
        return self.embedding_dropout(x, training=training)

    def _encode_states(self, source, training=None):
        mask = ops.not_equal(source, PAD_ID)
        x = self._embed(source, training=training)
        for rnn in self.encoder_rnns:
            out = rnn(x, mask=mask, training=training)
            x = out[0]
            states = out[1:]
        half = len(states) // 2  # forward states, then backward states
        joined = [ops.concatenate([f, b], axis=-1) for f, b in zip(states[:half], states[half:])]
        return x, mask, joined

    def encode(self, source, training=None):
        memory, mask, _ = self._encode_states(source, training)
        return memory, mask

    def _attend(self, outputs, memory, mask):
        """Decoder outputs [B, T, H] attend over memory [B, S, H]: tanh(W[ctx; out])."""
        scores = ops.einsum("bth,bsh->bts", self.attention_query(outputs), memory)
        scores = ops.where(mask[:, None, :], scores, -1e9)
        context = ops.einsum("bts,bsh->bth", ops.softmax(scores, axis=-1), memory)
        return self.combine(ops.concatenate([context, outputs], axis=-1))

    def _logits(self, x, training=None, kernel=None):
        return _project(self.embedding, self.output_dropout(x, training=training), kernel)

    def call(self, inputs, training=None):
        source, target_in = inputs
        memory, mask, states = self._encode_states(source, training)
        out = self.decoder_rnn(self._embed(target_in, training=training), initial_state=states,
                               training=training)
        return self._logits(self._attend(out[0], memory, mask), training)

    def decoding_state(self, source, cache_length=None):
        """Source ids [B, S] -> ``(state, context)``: the decoder's recurrent state, and
        the encoder output with its mask, shared by all beams of an example.
        ``cache_length`` is accepted for the common interface: these shapes are fixed."""
        del cache_length
        memory, mask, states = self._encode_states(source)
        return {f"h{i}": s for i, s in enumerate(states)}, {"memory": memory, "mask": mask}

    def decoding_step(self):
        """:meth:`step` for ``tasks.core.decoding`` (the common interface), with the
        :func:`output_kernel` built once per search."""
        return functools.partial(self.step,
                                 output_kernel=output_kernel(self.embedding, self.compute_dtype))

    def step(self, tokens, state, index, context, output_kernel=None):
        """One token per row (examples times beams, example-major) -> (logits, state).
        ``output_kernel``: see :meth:`decoding_step` (None: the embedding's own)."""
        del index  # the recurrent state carries the position
        count = 2 if self.cell == "lstm" else 1
        states = [state[f"h{i}"] for i in range(count)]
        out, new_states = self.decoder_rnn.cell(self._embed(tokens),
                                                states if count > 1 else states[0])
        new_states = new_states if isinstance(new_states, (list, tuple)) else [new_states]
        # The beams of an example attend like the time steps of one sequence.
        batch, rows = ops.shape(context["memory"])[0], ops.shape(out)[0]
        x = self._attend(ops.reshape(out, (batch, rows // batch, self.hidden_dim)),
                         context["memory"], context["mask"])
        logits = self._logits(ops.reshape(x, (rows, self.hidden_dim)), kernel=output_kernel)
        return logits, {f"h{i}": s for i, s in enumerate(new_states)}

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "source_length": self.source_length, "target_length": self.target_length,
                "hidden_dim": self.hidden_dim, "cell": self.cell,
                "encoder_layers": self.encoder_layers, "dropout": self.dropout}


ARCHITECTURES = {"transformer": TransformerSeq2Seq, "rnn": RecurrentSeq2Seq}


def build_translation_model(vocabulary_size, source_length, target_length,
                            architecture="transformer", options=None):
    """Functional model around a ``seq2seq`` layer; ``architecture`` 'transformer' or 'rnn'."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {sorted(ARCHITECTURES)}, got {architecture!r}")
    seq2seq = ARCHITECTURES[architecture](vocabulary_size, source_length, target_length,
                                          name="seq2seq", **dict(options or {}))
    source = keras.Input((None,), dtype="int32", name="source")
    target_in = keras.Input((None,), dtype="int32", name="target_in")
    logits = seq2seq([source, target_in])
    return keras.Model({"source": source, "target_in": target_in}, logits, name="translator")
