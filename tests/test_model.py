"""Captioning model behaviour on tiny models."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tasks.captioning.data import make_dataset
from tasks.captioning.model import build_captioning_model
from tasks.core.task import Task

from conftest import tiny_task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("decoder", ["transformer", "lstm", "gru"])
def test_cached_step_matches_full_forward(decoder):
    keras.utils.set_random_seed(1)
    options = {"hidden_dim": 32, "dropout": 0.0}
    if decoder == "transformer":
        options.update(num_layers=2, num_heads=2, intermediate_dim=64)
    model = build_captioning_model(20, 10, image_size=32, encoder_widths=[8, 16], decoder=decoder,
                                   decoder_options=options)
    images = tf.random.uniform([3, 32, 32, 3])
    tokens = tf.constant(np.random.default_rng(0).integers(4, 20, (3, 9)), tf.int32)
    full = model({"images": images, "tokens": tokens}).numpy()
    dec, enc = model.get_layer("decoder"), model.get_layer("image_encoder")
    state, context = dec.initial_state(enc(images))
    steps = []
    for t in range(9):
        logits, state = dec.step(tokens[:, t], state, t, context)
        steps.append(logits.numpy())
    np.testing.assert_allclose(np.stack(steps, 1), full, atol=1e-4)


def test_trailing_padding_does_not_change_the_loss(trained_task, train_examples):
    task = trained_task
    ds = make_dataset(train_examples[:8], task.preprocessor, 8, training=True, shuffle_buffer=0)
    features, labels = next(iter(ds))
    loss = task.loss()
    base = float(loss(labels, task.model(features)))
    # Replace everything after each caption's end with garbage ids: the causal mask
    # and ignore_class=0 must keep the loss identical.
    mask = tf.cast(labels == 0, tf.int32)
    noisy_tokens = features["tokens"] * (1 - mask) + mask * 7
    noisy = float(loss(labels, task.model({"images": features["images"], "tokens": noisy_tokens})))
    assert noisy == pytest.approx(base, rel=1e-5)


def test_unknown_decoder_and_backbone_errors():
    with pytest.raises(ValueError, match="decoder must be"):
        build_captioning_model(10, 8, decoder="rnn")
    with pytest.raises(ValueError, match="backbone='NoSuchNet'"):
        build_captioning_model(10, 8, backbone="NoSuchNet")


def test_keras_applications_backbone_needs_local_weights(tmp_path):
    missing = str(tmp_path / "mobilenet.h5")
    with pytest.raises(ValueError, match="never downloads"):
        build_captioning_model(10, 8, image_size=32, backbone="MobileNetV2", backbone_weights=missing)
    model = build_captioning_model(10, 8, image_size=32, backbone="MobileNetV2",
                                   backbone_weights=None, decoder="gru",
                                   decoder_options={"hidden_dim": 16})
    out = model({"images": tf.zeros([1, 32, 32, 3]), "tokens": tf.zeros([1, 5], tf.int32)})
    assert out.shape == (1, 5, 10)


def test_keras_applications_backbone_loads_weights_from_a_local_file(tmp_path):
    reference = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = str(tmp_path / "w.weights.h5")
    reference.save_weights(path)
    model = build_captioning_model(10, 8, image_size=32, backbone="MobileNetV2", backbone_weights=path,
                                   decoder="gru", decoder_options={"hidden_dim": 16})
    inner = [l for l in model.get_layer("image_encoder").layers if isinstance(l, keras.Model)][0]
    np.testing.assert_array_equal(inner.weights[0].numpy(), reference.weights[0].numpy())


def test_model_config_round_trips_through_json_and_keras_file(trained_task, tmp_path):
    model = trained_task.model
    config = json.loads(json.dumps(model.get_config()))
    clone = keras.Model.from_config(config)
    assert len(clone.weights) == len(model.weights)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    feats = {"images": tf.random.uniform([2, 48, 48, 3]), "tokens": tf.ones([2, 6], tf.int32)}
    np.testing.assert_allclose(loaded(feats), model(feats), atol=1e-5)


def test_saved_task_reloads_with_identical_captions(trained_task, saved_task_dir, image_bytes):
    loaded = Task.load(saved_task_dir)
    assert loaded.caption(image_bytes) == trained_task.caption(image_bytes)
    assert loaded.config["vocabulary"] == trained_task.config["vocabulary"]


def test_saved_task_loads_in_a_process_that_never_imported_its_task(saved_task_dir):
    # Task.load imports the built-in task module named in task.json; a user should not have
    # to know that tasks.captioning.task registers the class
    code = ("import sys; from tasks.core.task import Task; t = Task.load(sys.argv[1]); "
            "print(type(t).__name__)")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", code, saved_task_dir], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "CaptioningTask"


def test_saved_task_naming_an_unknown_task_is_a_clear_error(saved_task_dir, tmp_path):
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(saved_task_dir, bad)
    meta = json.loads((bad / "task.json").read_text())
    (bad / "task.json").write_text(json.dumps({**meta, "task": "no_such_task"}))
    with pytest.raises(ValueError, match="'no_such_task' is not registered"):
        Task.load(str(bad))


def _copy_saved(saved_task_dir, tmp_path):
    import shutil

    return shutil.copytree(saved_task_dir, tmp_path / "copy")


def test_a_lambda_layer_in_model_keras_is_refused(saved_task_dir, tmp_path):
    bad = _copy_saved(saved_task_dir, tmp_path)
    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(bad / "model.keras")
    with pytest.raises(ValueError, match=r"model\.keras.*safe_mode.*Lambda"):
        Task.load(str(bad))


def test_an_unregistered_class_in_preprocessor_json_is_refused(saved_task_dir, tmp_path):
    bad = _copy_saved(saved_task_dir, tmp_path)
    config = json.loads((bad / "preprocessor.json").read_text())
    (bad / "preprocessor.json").write_text(json.dumps(
        {**config, "module": "os", "class_name": "system", "registered_name": "os>system"}))
    with pytest.raises(ValueError, match=r"preprocessor\.json.*could not be loaded safely"):
        Task.load(str(bad))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "missing", "bad_json",
                                    "weights_cut", "config_cut"])
def test_damaged_model_files_name_the_file(saved_task_dir, tmp_path, damage):
    bad = _copy_saved(saved_task_dir, tmp_path)
    model = bad / "model.keras"
    data = model.read_bytes()
    if damage == "truncated":
        model.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        rng = np.random.default_rng(0)
        model.write_bytes(data[:200] + rng.integers(0, 256, len(data) - 200, dtype=np.uint8).tobytes())
    elif damage == "empty":
        model.write_bytes(b"")
    elif damage == "missing":
        model.unlink()
    elif damage in ("weights_cut", "config_cut"):
        # a valid zip whose weights (HDF5) or config (JSON) member is cut in half
        import zipfile

        with zipfile.ZipFile(model) as z:
            members = {n: z.read(n) for n in z.namelist()}
        target = "model.weights.h5" if damage == "weights_cut" else "config.json"
        members[target] = members[target][: len(members[target]) // 2]
        with zipfile.ZipFile(model, "w") as z:
            for n, payload in members.items():
                z.writestr(n, payload)
    else:
        (bad / "preprocessor.json").write_text('{"module": ')
    name = "preprocessor.json" if damage == "bad_json" else "model.keras"
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        Task.load(str(bad))


def test_predict_same_on_arrays_and_dataset(trained_task, test_examples):
    task = trained_task
    ds = make_dataset(test_examples[:4], task.preprocessor, 2)
    pixels = np.concatenate([p.numpy() for p, _ in ds])
    from_ds = task.evaluate(ds, beam_width=1)["captions"]
    from_pixels = task.caption((pixels * 255).round().astype(np.uint8), beam_width=1)
    from_bytes = task.caption([open(e["image"], "rb").read() for e in test_examples[:4]], beam_width=1)
    assert from_ds == from_bytes
    assert sum(a == b for a, b in zip(from_pixels, from_bytes)) >= 3  # uint8 rounding may flip one


def test_beam_one_equals_greedy_on_the_model(trained_task, image_bytes):
    assert trained_task.caption(image_bytes, beam_width=1) == trained_task.caption(
        image_bytes, beam_width=1, max_length=15)
    greedy = trained_task.generate(trained_task.preprocessor.image_preprocessor(
        tf.constant(image_bytes)), beam_width=1)
    from tasks.core import decoding
    from tasks.core.text import END_ID, START_ID
    dec = trained_task.model.get_layer("decoder")
    grid = trained_task.model.get_layer("image_encoder")(
        trained_task.preprocessor.image_preprocessor(tf.constant(image_bytes)))
    state, context = dec.initial_state(grid)
    beam1, _ = decoding.beam_search(dec.step, state, START_ID, END_ID, 15, 1, 0.6, context=context)
    np.testing.assert_array_equal(greedy, beam1)


def test_caption_argument_errors(trained_task, image_bytes):
    with pytest.raises(ValueError, match="max_length"):
        trained_task.caption(image_bytes, max_length=99)
    with pytest.raises(ValueError, match="beam_width"):
        trained_task.generate(tf.zeros([1, 48, 48, 3]), beam_width=0)


def test_unknown_config_key_is_rejected(train_examples):
    with pytest.raises(TypeError, match="unknown config keys"):
        tiny_task(train_examples, colour="red")


def test_cross_attention_maps_are_distributions_over_the_grid(trained_task, image_bytes):
    task = trained_task
    pixels = task.preprocessor.image_preprocessor(tf.constant(image_bytes[:2]))
    grid = task.model.get_layer("image_encoder")(pixels)
    tokens = tf.constant([[2, 4, 5, 6], [2, 7, 8, 3]], tf.int32)
    maps = task.model.get_layer("decoder").cross_attention_maps(tokens, grid).numpy()
    cells = grid.shape[1] * grid.shape[2]
    assert maps.shape == (2, 2, 4, cells)
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
    # same words, swapped images: the maps follow the image
    same = tf.constant([[2, 4, 5, 6], [2, 4, 5, 6]], tf.int32)
    dec = task.model.get_layer("decoder")
    a, b = dec.cross_attention_maps(same, grid).numpy(), dec.cross_attention_maps(same, grid[::-1]).numpy()
    np.testing.assert_allclose(a[0], b[1], atol=1e-5)
    assert np.abs(a[0] - a[1]).max() > 1e-4


def test_keras_hub_backbone_from_a_local_preset_directory(tmp_path):
    import keras_hub

    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block")
    preset = str(tmp_path / "tiny_resnet")
    backbone.save_to_preset(preset)
    model = build_captioning_model(12, 8, image_size=32, backbone=preset, decoder="transformer",
                                   decoder_options={"hidden_dim": 16, "num_layers": 1, "num_heads": 2,
                                                    "intermediate_dim": 32})
    out = model({"images": tf.zeros([2, 32, 32, 3]), "tokens": tf.zeros([2, 5], tf.int32)})
    assert out.shape == (2, 5, 12)
    inner = [l for l in model.get_layer("image_encoder").layers if isinstance(l, keras_hub.models.Backbone)][0]
    np.testing.assert_array_equal(inner.weights[0].numpy(), backbone.weights[0].numpy())
