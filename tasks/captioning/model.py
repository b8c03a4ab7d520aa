"""Captioning networks: image encoders and the two decoders.

The training graph is a Keras functional model
``{"images": float [B, S, S, 3] in 0..1, "tokens": int [B, L]} -> logits [B, L, V]``
built from an ``image_encoder`` (CNN -> feature grid) and a ``decoder`` layer. Each
decoder also exposes ``initial_state(grid) -> (state, context)`` and
``step(tokens, state, index, context)``, the cached one-token step that
``tasks.core.decoding`` drives at inference time; training and decoding share every
weight, and a test holds the step equal to the forward pass.

Example:
    >>> model = build_captioning_model(vocabulary_size=40, sequence_length=16)
    >>> model({"images": tf.zeros([2, 96, 96, 3]), "tokens": tf.zeros([2, 15], "int32")}).shape
    TensorShape([2, 15, 40])
"""

import os

import keras
import keras_hub
from keras import layers, ops

from tasks.core import transformer_step


def small_cnn(image_size, widths=(32, 64, 128, 192), name="image_encoder"):
    """A from-scratch CNN: one stride-2 stage per width, returns the feature grid.

    Batch norm is synchronized across replicas so every worker of a distributed run
    holds the same moving statistics (a no-op on one device).
    """
    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = inputs
    for i, width in enumerate(widths):
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name=f"stage{i}_down")(x)
        x = layers.BatchNormalization(synchronized=True, name=f"stage{i}_bn0")(x)
        x = layers.Activation("relu")(x)
        y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"stage{i}_conv")(x)
        y = layers.BatchNormalization(synchronized=True, name=f"stage{i}_bn1")(y)
        x = layers.Activation("relu")(layers.Add()([x, y]))
    return keras.Model(inputs, x, name=name)


def pretrained_backbone(name, image_size, weights):
    """A ``keras.applications`` model (by class name) or a local keras-hub preset dir.

    Weights must already be on disk: ``weights`` is a path to the ``.h5``/``.keras``
    weights file (or ``None`` for random init); a directory is loaded with
    ``keras_hub.models.Backbone.from_preset``.
    """
    if os.path.isdir(name):
        # A local keras-hub preset (what ``Backbone.save_to_preset`` writes): the
        # backbone gets 0..1 pixels; fine-tuning adapts it to that scale.
        base = keras_hub.models.Backbone.from_preset(name)
        inputs = keras.Input((image_size, image_size, 3), name="images")
        return keras.Model(inputs, base(inputs), name="image_encoder")
    factory = getattr(keras.applications, name, None)
    if factory is None or not callable(factory):
        raise ValueError(
            f"backbone={name!r} is neither 'small_cnn', a keras.applications model name "
            "(e.g. 'MobileNetV2') nor a local keras-hub preset directory"
        )
    if weights is not None and not os.path.exists(weights):
        raise ValueError(
            f"backbone_weights={weights!r} does not exist. This library never downloads "
            "weights at run time: download the file once and pass its local path, or pass "
            "backbone_weights=None to start from random weights."
        )
    base = factory(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
    if weights is not None:
        base.load_weights(weights)
    inputs = keras.Input((image_size, image_size, 3), name="images")
    # keras.applications models expect 0..255 pixels; ours are 0..1.
    return keras.Model(inputs, base(inputs * 255.0), name="image_encoder")


def build_image_encoder(backbone="small_cnn", image_size=96, backbone_weights=None, widths=None):
    if backbone == "small_cnn":
        return small_cnn(image_size, **({"widths": tuple(widths)} if widths else {}))
    return pretrained_backbone(backbone, image_size, backbone_weights)


@keras.saving.register_keras_serializable(package="tasks")
class TransformerCaptionDecoder(layers.Layer):
    """Transformer decoder with cross-attention over the image feature grid.

    Uses keras-hub's ``TransformerDecoder`` blocks (cached self-attention) and
    ``TokenAndPositionEmbedding``; the grid gets a learned 2-D position embedding
    so spatial relations (left of / above) are visible to the decoder.
    """

    def __init__(self, vocabulary_size, sequence_length, hidden_dim=192, num_layers=2,
                 num_heads=4, intermediate_dim=384, dropout=0.1, grid_size=36, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.grid_size = grid_size
        self.memory_projection = layers.Dense(hidden_dim, name="memory_projection")
        self.memory_positions = keras_hub.layers.PositionEmbedding(grid_size, name="memory_positions")
        self.memory_norm = layers.LayerNormalization(epsilon=1e-5, name="memory_norm")
        self.embedding = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary_size, sequence_length, hidden_dim, name="token_embedding"
        )
        self.blocks = [
            keras_hub.layers.TransformerDecoder(
                intermediate_dim, num_heads, dropout=dropout, normalize_first=True, name=f"block{i}"
            )
            for i in range(num_layers)
        ]
        self.final_norm = layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        self.head = layers.Dense(vocabulary_size, dtype="float32", name="logits")

    def build(self, input_shape):
        tokens_shape, grid_shape = input_shape
        memory_shape = (grid_shape[0], self.grid_size, grid_shape[-1])
        self.memory_projection.build(memory_shape)
        hidden = (memory_shape[0], self.grid_size, self.hidden_dim)
        self.memory_positions.build(hidden)
        self.memory_norm.build(hidden)
        self.embedding.build(tokens_shape)
        seq = (tokens_shape[0], tokens_shape[1], self.hidden_dim)
        for block in self.blocks:
            block.build(seq, hidden)
        self.final_norm.build(seq)
        self.head.build(seq)
        self.built = True

    def encode_memory(self, grid):
        """Feature grid [B, h, w, C] -> memory [B, h*w, hidden]."""
        shape = ops.shape(grid)
        memory = self.memory_projection(ops.reshape(grid, (shape[0], -1, shape[-1])))
        return self.memory_norm(memory + self.memory_positions(memory))

    def call(self, inputs, training=None):
        tokens, grid = inputs
        memory = self.encode_memory(grid)
        x = self.embedding(tokens)
        for block in self.blocks:
            x = block(x, memory, training=training)
        return self.head(self.final_norm(x))

    def _head_dim(self):
        return self.hidden_dim // self.num_heads

    def initial_state(self, grid):
        """``(state, context)`` for :meth:`step` and ``tasks.core.decoding``: per-row
        self-attention keys and values that start empty and grow, and per-image
        cross-attention keys and values, computed once and shared by all beams."""
        memory = self.encode_memory(grid)
        batch = ops.shape(memory)[0]
        state, context = {}, {}
        for i, block in enumerate(self.blocks):
            context[f"cross{i}"] = transformer_step.cross_attention_context(block, memory)
            state[f"self{i}"] = transformer_step.empty_self_attention(block, batch, memory.dtype)
        return state, context

    def decoding_step(self):
        """:meth:`step` for ``tasks.core.decoding``, each block's fused self-attention
        projection built once per search (``transformer_step.with_projections``)."""
        return transformer_step.with_projections(self.step, self.blocks, self.compute_dtype)

    def step(self, tokens, state, index, context, projections=None):
        """Feed one token per row at position ``index``; returns (logits, state).

        Rows are images times beams in image-major order (``tasks.core.decoding``).
        ``projections``: see :meth:`decoding_step` (None: the projection layers are called).
        """
        x = self.embedding(tokens[:, None], start_index=index)
        new_state = {}
        for i, block in enumerate(self.blocks):
            x, new_state[f"self{i}"] = transformer_step.decoder_block_step(
                block, x, state[f"self{i}"], context[f"cross{i}"],
                projection=None if projections is None else projections[i])
        return self.head(self.final_norm(x))[:, 0], new_state

    def cross_attention_maps(self, tokens, grid):
        """Last block's cross-attention weights ``[B, heads, len(tokens), grid cells]``.

        For plots: where in the image the decoder looks while emitting each word.
        keras-hub's cached attention layer does not return scores, so this recomputes
        them from the block's own projections (same weights, same scaling).
        """
        memory = self.encode_memory(grid)
        x = self.embedding(tokens)
        for block in self.blocks[:-1]:
            x = block(x, memory)
        block = self.blocks[-1]
        residual = x
        h = block._self_attention_layer_norm(x) if block.normalize_first else x
        length = ops.shape(x)[1]
        causal = ops.tril(ops.ones((length, length), "bool"))[None]
        h = block._self_attention_layer(query=h, value=h, attention_mask=causal)
        x = residual + h
        if not block.normalize_first:
            x = block._self_attention_layer_norm(x)
        query = block._cross_attention_layer_norm(x) if block.normalize_first else x
        attention = block._cross_attention_layer
        q = attention._query_dense(query)
        k = attention._key_dense(memory)
        scores = ops.einsum("bqhd,bkhd->bhqk", q, k) / ops.sqrt(ops.cast(ops.shape(q)[-1], q.dtype))
        return ops.softmax(scores, axis=-1)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length, "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout,
                "grid_size": self.grid_size}


@keras.saving.register_keras_serializable(package="tasks")
class RecurrentCaptionDecoder(layers.Layer):
    """Show-and-Tell decoder (arXiv 1411.4555): the pooled image initialises an LSTM/GRU.

    The paper feeds the image embedding as the first input; initialising the
    recurrent state from it is the common equivalent that keeps step 0 a word step.
    """

    def __init__(self, vocabulary_size, sequence_length, hidden_dim=256, cell="lstm",
                 dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.hidden_dim = hidden_dim
        self.cell = cell
        self.dropout = dropout
        self.pool = layers.GlobalAveragePooling2D()
        self.state_projections = [
            layers.Dense(hidden_dim, activation="tanh", name=f"init_state{i}")
            for i in range(2 if cell == "lstm" else 1)
        ]
        self.embedding = layers.Embedding(vocabulary_size, hidden_dim, name="token_embedding")
        rnn_cls = layers.LSTM if cell == "lstm" else layers.GRU
        self.rnn = rnn_cls(hidden_dim, return_sequences=True, name="rnn")
        self.drop = layers.Dropout(dropout)
        self.head = layers.Dense(vocabulary_size, dtype="float32", name="logits")

    def build(self, input_shape):
        tokens_shape, grid_shape = input_shape
        for proj in self.state_projections:
            proj.build((grid_shape[0], grid_shape[-1]))
        self.embedding.build(tokens_shape)
        seq = (tokens_shape[0], tokens_shape[1], self.hidden_dim)
        self.rnn.build(seq)
        self.head.build(seq)
        self.built = True

    def _initial_rnn_state(self, grid):
        pooled = self.pool(grid)
        return [proj(pooled) for proj in self.state_projections]

    def call(self, inputs, training=None):
        tokens, grid = inputs
        x = self.embedding(tokens)
        x = self.rnn(x, initial_state=self._initial_rnn_state(grid), training=training)
        return self.head(self.drop(x, training=training))

    def initial_state(self, grid):
        """``(state, context)``: the recurrent state from the pooled image; no context."""
        return {f"h{i}": s for i, s in enumerate(self._initial_rnn_state(grid))}, {}

    def decoding_step(self):
        """The step function for ``tasks.core.decoding`` (the common interface)."""
        return self.step

    def step(self, tokens, state, index, context=None):
        del index, context  # a recurrent cell carries its own position; the image is in it
        states = [state[f"h{i}"] for i in range(len(self.state_projections))]
        x = self.embedding(tokens)
        out, new_states = self.rnn.cell(x, states if len(states) > 1 else states[0])
        new_states = new_states if isinstance(new_states, (list, tuple)) else [new_states]
        return self.head(out), {f"h{i}": s for i, s in enumerate(new_states)}

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length, "hidden_dim": self.hidden_dim,
                "cell": self.cell, "dropout": self.dropout}


def build_captioning_model(vocabulary_size, sequence_length, image_size=96, backbone="small_cnn",
                           backbone_weights=None, encoder_widths=None, decoder="transformer",
                           decoder_options=None):
    """Functional captioning model; ``decoder`` is 'transformer', 'lstm' or 'gru'."""
    encoder = build_image_encoder(backbone, image_size, backbone_weights, encoder_widths)
    grid_shape = encoder.output_shape
    options = dict(decoder_options or {})
    if decoder == "transformer":
        dec = TransformerCaptionDecoder(
            vocabulary_size, sequence_length, grid_size=int(grid_shape[1] * grid_shape[2]),
            name="decoder", **options
        )
    elif decoder in ("lstm", "gru"):
        dec = RecurrentCaptionDecoder(vocabulary_size, sequence_length, cell=decoder, name="decoder",
                                      **options)
    else:
        raise ValueError(f"decoder must be 'transformer', 'lstm' or 'gru', got {decoder!r}")
    images = keras.Input((image_size, image_size, 3), name="images")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    logits = dec([tokens, encoder(images)])
    return keras.Model({"images": images, "tokens": tokens}, logits, name="captioner")
