"""Video networks: per-frame CNN, temporal encoder, frame-label head, caption decoder.

The training graph is a Keras functional model
``{"frames": float [B, T, S, S, 3] in 0..1, "lengths": int [B], "tokens": int [B, L]}
-> {"labels": logits [B, T, labels], "caption": logits [B, L, V]}``:

* ``frame_encoder``: a small CNN applied to every frame (the frames of the batch are
  folded into one image batch); its feature grid is flattened, not pooled, into one
  vector per frame, because where an object is matters (entering, moving, jumping);
* ``temporal``: a bidirectional GRU over the frame vectors (the default), or a
  Transformer encoder by config; both masked, so frames past ``lengths`` change nothing;
* ``frame_labels``: a dense head on every time step (many-to-many, synchronised);
* ``caption_decoder``: S2VT's idea (Venugopalan et al. 2015, arXiv 1505.00487), a
  recurrent decoder that reads the encoded frames, here with Luong attention over them
  and its state started from their masked mean. It exposes ``decoding_state`` /
  ``step`` for the shared cached greedy and beam search (``tasks.core.decoding``).

Example:
    >>> model = build_video_model(num_labels=8, vocabulary_size=40)
    >>> out = model({"frames": tf.zeros([2, 16, 64, 64, 3]), "lengths": tf.constant([16, 9]),
    ...              "tokens": tf.zeros([2, 23], "int32")})
    >>> out["labels"].shape, out["caption"].shape
    (TensorShape([2, 16, 8]), TensorShape([2, 23, 40]))
"""

import keras
import keras_hub
from keras import layers, ops



def frame_cnn(frame_size, widths, name="cnn"):
    """One stride-2 residual stage per width, group-normalised.

    Group norm, not batch norm: statistics are per frame, so training and inference
    compute the same function and padded frames never touch a real frame's features
    (batch statistics would mix them in training).
    """
    inputs = keras.Input((frame_size, frame_size, 3), name="frame")
    x = inputs
    for i, width in enumerate(widths):
        groups = max(1, min(8, width // 4))
        x = layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False, name=f"stage{i}_down")(x)
        x = layers.Activation("relu")(layers.GroupNormalization(groups, name=f"stage{i}_gn0")(x))
        y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"stage{i}_conv")(x)
        y = layers.GroupNormalization(groups, name=f"stage{i}_gn1")(y)
        x = layers.Activation("relu")(layers.Add()([x, y]))
    return keras.Model(inputs, x, name=name)


def frame_mask(lengths, frames):
    """Lengths [B] -> bool [B, T] (True on real frames)."""
    return ops.arange(ops.shape(frames)[1])[None, :] < ops.cast(lengths, "int32")[:, None]


@keras.saving.register_keras_serializable(package="tasks")
class FrameEncoder(layers.Layer):
    """Frames [B, T, S, S, 3] -> one feature vector per frame [B, T, D]."""

    def __init__(self, frame_size=64, widths=(24, 48, 96, 128), feature_dim=192, **kwargs):
        super().__init__(**kwargs)
        self.frame_size = int(frame_size)
        self.widths = tuple(int(w) for w in widths)
        self.feature_dim = int(feature_dim)
        self.cnn = frame_cnn(self.frame_size, self.widths, name="cnn")
        self.project = layers.Dense(self.feature_dim, activation="relu", name="project")

    def build(self, input_shape):
        self.cnn.build((None, self.frame_size, self.frame_size, 3))
        grid = self.cnn.output_shape
        self.project.build((None, grid[1] * grid[2] * grid[3]))
        self.built = True

    def call(self, frames, training=None):
        shape = ops.shape(frames)
        images = ops.reshape(frames, (-1, self.frame_size, self.frame_size, 3))
        grid = self.cnn(images, training=training)
        features = self.project(ops.reshape(grid, (ops.shape(grid)[0], -1)))
        return ops.reshape(features, (shape[0], shape[1], self.feature_dim))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.feature_dim)

    def get_config(self):
        return {**super().get_config(), "frame_size": self.frame_size, "widths": list(self.widths),
                "feature_dim": self.feature_dim}


@keras.saving.register_keras_serializable(package="tasks")
class TemporalEncoder(layers.Layer):
    """Frame vectors [B, T, D] + mask -> context-aware frame features [B, T, hidden].

    ``kind``: 'bigru' (a bidirectional GRU) or 'transformer' (keras-hub encoder blocks
    with learned positions).
    """

    def __init__(self, kind="bigru", hidden_dim=192, num_layers=1, num_heads=4,
                 max_frames=512, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("bigru", "transformer"):
            raise ValueError(f"temporal kind must be 'bigru' or 'transformer', got {kind!r}")
        if hidden_dim % 2:
            raise ValueError(f"hidden_dim must be even, got {hidden_dim}")
        self.kind, self.hidden_dim, self.num_layers = kind, int(hidden_dim), int(num_layers)
        self.num_heads, self.max_frames, self.dropout = int(num_heads), int(max_frames), dropout
        if kind == "bigru":
            self.blocks = [layers.Bidirectional(layers.GRU(hidden_dim // 2, return_sequences=True),
                                                name=f"bigru{i}") for i in range(num_layers)]
        else:
            self.project = layers.Dense(hidden_dim, name="project")
            self.positions = keras_hub.layers.PositionEmbedding(max_frames, name="positions")
            self.blocks = [keras_hub.layers.TransformerEncoder(
                hidden_dim * 2, num_heads, dropout=dropout, normalize_first=True,
                name=f"encoder{i}") for i in range(num_layers)]
            self.norm = layers.LayerNormalization(epsilon=1e-5, name="norm")

    def build(self, input_shape):
        hidden = (input_shape[0], input_shape[1], self.hidden_dim)
        if self.kind == "bigru":
            shape = input_shape
            for block in self.blocks:
                block.build(shape)
                shape = hidden
        else:
            self.project.build(input_shape)
            self.positions.build(hidden)
            for block in self.blocks:
                block.build(hidden)
            self.norm.build(hidden)
        self.built = True

    def call(self, x, mask, training=None):
        if self.kind == "bigru":
            for block in self.blocks:
                x = block(x, mask=mask, training=training)
            # A masked GRU repeats its last output on padded steps; zero them.
            return ops.where(mask[..., None], x, ops.zeros_like(x))
        x = self.project(x)
        x = x + self.positions(x)
        for block in self.blocks:
            x = block(x, padding_mask=mask, training=training)
        return ops.where(mask[..., None], self.norm(x), 0.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.hidden_dim)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "max_frames": self.max_frames, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="tasks")
class VideoCaptionDecoder(layers.Layer):
    """GRU decoder with Luong "general" attention over the encoded frames.

    Without input feeding, so teacher forcing runs the GRU over the whole caption at
    once and the one-token :meth:`step` computes the same (a test holds them equal).
    """

    def __init__(self, vocabulary_size, hidden_dim=192, embedding_dim=96, dropout=0.1, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.hidden_dim = int(vocabulary_size), int(hidden_dim)
        self.embedding_dim, self.dropout = int(embedding_dim), dropout
        self.embedding = layers.Embedding(vocabulary_size, embedding_dim, name="token_embedding")
        self.init_state = layers.Dense(hidden_dim, activation="tanh", name="init_state")
        self.rnn = layers.GRU(hidden_dim, return_sequences=True, name="rnn")
        self.combine = layers.Dense(hidden_dim, activation="tanh", name="attention_combine")
        self.drop = layers.Dropout(dropout)
        self.head = layers.Dense(vocabulary_size, dtype="float32", name="logits")

    def build(self, input_shape):
        tokens_shape, memory_shape = input_shape[:2]
        # Luong's "general" score h^T W m: W maps the decoder state to the frame width.
        self.attention_query = layers.Dense(memory_shape[-1], use_bias=False,
                                            name="attention_general")
        self.embedding.build(tokens_shape)
        self.init_state.build((memory_shape[0], memory_shape[-1]))
        seq = (tokens_shape[0], tokens_shape[1], self.hidden_dim)
        self.rnn.build((tokens_shape[0], tokens_shape[1], self.embedding_dim))
        self.attention_query.build(seq)
        self.combine.build((tokens_shape[0], tokens_shape[1], self.hidden_dim + memory_shape[-1]))
        self.head.build(seq)
        self.built = True

    def _start(self, memory, mask):
        weights = ops.cast(mask, memory.dtype)[..., None]
        mean = ops.sum(memory * weights, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1.0)
        return self.init_state(mean)

    def _attend(self, outputs, memory, mask):
        """Decoder outputs [B, L, H] attend over frames [B, T, D]: tanh(W[ctx; out])."""
        scores = ops.einsum("bld,btd->blt", self.attention_query(outputs), memory)
        scores = ops.where(mask[:, None, :], scores, -1e9)
        context = ops.einsum("blt,btd->bld", ops.softmax(scores, axis=-1), memory)
        return self.combine(ops.concatenate([context, outputs], axis=-1))

    def call(self, inputs, mask=None, training=None):
        tokens, memory, frames_mask = inputs
        out = self.rnn(self.embedding(tokens), initial_state=self._start(memory, frames_mask),
                       training=training)
        return self.head(self.drop(self._attend(out, memory, frames_mask), training=training))

    def decoding_state(self, memory, mask):
        """``(state, context)`` for :meth:`step`: the GRU state, and the frames with their
        mask (per clip, shared by its beams)."""
        return {"h": self._start(memory, mask)}, {"memory": memory, "mask": mask}

    def step(self, tokens, state, index, context):
        """One token per row (clips times beams, clip-major) -> (logits, state)."""
        del index  # the recurrent state carries the position
        out, h = self.rnn.cell(self.embedding(tokens), state["h"])
        h = h[0] if isinstance(h, (list, tuple)) else h
        batch, rows = ops.shape(context["memory"])[0], ops.shape(out)[0]
        x = self._attend(ops.reshape(out, (batch, rows // batch, self.hidden_dim)),
                         context["memory"], context["mask"])
        return self.head(ops.reshape(x, (rows, self.hidden_dim))), {"h": h}

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim, "embedding_dim": self.embedding_dim,
                "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="tasks")
class FrameMask(layers.Layer):
    """(lengths [B], frame features [B, T, D]) -> bool mask [B, T]."""

    def call(self, lengths, features):
        return frame_mask(lengths, features)

    def compute_output_spec(self, lengths, features):
        return keras.KerasTensor((features.shape[0], features.shape[1]), "bool")


def build_video_model(num_labels, vocabulary_size, frame_size=64,
                      frame_widths=(16, 32, 64, 96), feature_dim=192, temporal="bigru",
                      temporal_options=None, decoder_options=None):
    """The functional video model (see the module docstring)."""
    frames = keras.Input((None, frame_size, frame_size, 3), name="frames")
    lengths = keras.Input((), dtype="int32", name="lengths")
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    features = FrameEncoder(frame_size, frame_widths, feature_dim, name="frame_encoder")(frames)
    mask = FrameMask(name="frame_mask")(lengths, features)
    encoded = TemporalEncoder(temporal, name="temporal", **dict(temporal_options or {}))(
        features, mask)
    labels = layers.Dense(num_labels, dtype="float32", name="frame_labels")(encoded)
    caption = VideoCaptionDecoder(vocabulary_size, name="caption_decoder",
                                  **dict(decoder_options or {}))([tokens, encoded, mask])
    return keras.Model({"frames": frames, "lengths": lengths, "tokens": tokens},
                       {"labels": labels, "caption": caption}, name="video_annotator")
