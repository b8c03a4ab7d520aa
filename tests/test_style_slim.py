"""The slim style network: its layers, any image size, the recolouring start, and training
it by distillation from a teacher (tiny sizes)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests import style_fixtures as fx


def _image(h, w, seed=0):
    return np.asarray(fx.painting(w, h, seed), np.float32) / 255.0


def test_fast_instance_norm_equals_group_normalization():
    from tasks.style_transfer.slim import FastInstanceNorm

    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, [3, 9, 13, 5]), tf.float32)
    fast, reference = FastInstanceNorm(), keras.layers.GroupNormalization(groups=-1, epsilon=1e-5)
    fast.build(x.shape), reference.build(x.shape)
    gamma = np.linspace(0.5, 2.0, 5).astype(np.float32)
    beta = np.linspace(-1.0, 1.0, 5).astype(np.float32)
    fast.set_weights([gamma, beta]), reference.set_weights([gamma, beta])
    np.testing.assert_allclose(fast(x), reference(x), atol=2e-5)
    # the same gradients too: it trains like the group norm
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = tf.reduce_sum(tf.sin(fast(x)))
        b = tf.reduce_sum(tf.sin(reference(x)))
    np.testing.assert_allclose(tape.gradient(a, x), tape.gradient(b, x), atol=1e-4)
    np.testing.assert_allclose(tape.gradient(a, fast.trainable_weights[0]),
                               tape.gradient(b, reference.trainable_weights[0]), rtol=1e-4,
                               atol=1e-4)
    # one image alone gets its own statistics, not the batch's
    np.testing.assert_allclose(fast(x[1:2])[0], fast(x)[1], atol=2e-5)


def test_slim_net_keeps_any_size_and_starts_as_the_recoloured_photo():
    from tasks.style_transfer.slim import build_slim_net, set_recolour

    net = build_slim_net()
    painting = _image(40, 50, seed=3)[..., ::-1]
    set_recolour(net, painting)
    for h, w in ((33, 45), (64, 64), (250, 333)):
        photo = _image(h, w)[None]
        out = net(photo).numpy()
        assert out.shape == (1, h, w, 3)
        # zero-initialised change: the photo with the painting's channel mean and spread
        normalised = (photo - photo.mean((1, 2), keepdims=True)) / photo.std((1, 2), keepdims=True)
        expected = normalised * painting.reshape(-1, 3).std(0) + painting.reshape(-1, 3).mean(0)
        np.testing.assert_allclose(out, np.clip(expected, 1e-3, 1 - 1e-3), atol=2e-3)
    with pytest.raises(ValueError, match="widths"):
        build_slim_net(widths=(64, 32, 8))
    with pytest.raises(ValueError, match="block_norms"):
        build_slim_net(block_norms=3)


def test_slim_net_has_no_layer_at_full_resolution():
    # the point of the design: convolutions at full size took a quarter of the time
    from tasks.style_transfer.slim import build_slim_net

    net = build_slim_net()
    photo = tf.zeros([1, 64, 64, 3])
    probe = keras.Model(net.inputs, [layer.output for layer in net.layers
                                     if isinstance(layer, keras.layers.Conv2D)])
    sides = [int(out.shape[1]) for out in probe(photo)]
    assert max(sides) < 64, sides
    # and none pads with zeros: "valid" over the reflected border (with "same", a distilled
    # network painted a frame of stripes along the edges)
    assert all(layer.padding == "valid" for layer in net.layers
               if isinstance(layer, keras.layers.Conv2D))


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    """A tiny transform network (the teacher), and a slim network distilled from it."""
    from tasks.style_transfer.recipe import train

    root = tmp_path_factory.mktemp("slim")
    style = str(root / "style.png")
    Image.fromarray(np.uint8(_image(64, 64, 1)[::-1] * 255)).save(style)
    photos = []
    for i in range(4):
        path = str(root / f"photo{i}.jpg")
        fx.painting(96, 80, seed=i).save(path)
        photos.append(path)
    small = dict(batch_size=2, image_size=32, style_size=48, content_images=photos, verbose=0)
    teacher = train(None, str(root / "teacher"), style, epochs=1, steps_per_epoch=4,
                    learning_rate=5e-3, filters=[4, 8, 8], residual_blocks=1, **small)
    student = train(None, str(root / "student"), style, preset="slim", epochs=2,
                    steps_per_epoch=8, learning_rate=5e-3, teacher=str(root / "teacher"),
                    distill_weights=(1.0, 0.0), slim_widths=[8, 8], residual_blocks=1, **small)
    return teacher, student, root, photos, style, small


def test_distillation_lowers_the_distance_to_the_teacher(distilled):
    teacher, student, root, photos, _, _ = distilled
    losses = student.model.history.history["loss"]
    assert losses[-1] < losses[0], losses
    assert student.config["teacher"] == os.path.abspath(root / "teacher")
    assert student.config["distill_weights"] == [1.0, 0.0]


def test_the_recolouring_starts_at_the_teacher_s_or_the_painting_s(distilled):
    from tasks.style_transfer.task import StyleTransferTask, load_style_image

    teacher, student, root, photos, style, small = distilled
    slim = dict(architecture="slim", slim_widths=[8, 8], residual_blocks=1, style_image=style,
                style_size=48)
    # a transform network has no recolouring: the painting's channel mean and spread
    task = StyleTransferTask(teacher=str(root / "teacher"), **slim).start_recolour()
    painting = load_style_image(style, 48).numpy().reshape(-1, 3)
    scale, shift = task.model.get_layer("adain_pixels").get_weights()
    np.testing.assert_allclose(shift, painting.mean(0), atol=1e-5)
    np.testing.assert_allclose(scale, painting.std(0), atol=1e-4)
    # a slim (or AdaIN) teacher's own, trained, recolouring
    task = StyleTransferTask(teacher=str(root / "student"), **slim).start_recolour()
    for got, want in zip(task.model.get_layer("adain_pixels").get_weights(),
                         student.model.get_layer("adain_pixels").get_weights()):
        np.testing.assert_allclose(got, want)
    assert not np.allclose(shift, student.model.get_layer("adain_pixels").get_weights()[1])


def test_a_slim_network_continues_on_the_perceptual_loss_and_serves(distilled, tmp_path):
    from tasks.core.task import Task
    from tasks.style_transfer.recipe import train
    from tasks.style_transfer.task import ExportedStylizer

    teacher, student, root, photos, style, small = distilled
    loaded = Task.load(str(root / "student"))
    assert loaded.config["architecture"] == "slim" and loaded.config["slim_widths"] == [8, 8]
    more = train(None, str(tmp_path / "more"), style, epochs=1, steps_per_epoch=2,
                 learning_rate=1e-3, task=loaded, teacher=str(root / "teacher"), seed=1, **small)
    assert more.config["distill_weights"] == [1.0, 1.0]
    assert np.isfinite(more.model.history.history["loss"]).all()
    # saved, loaded (safe mode) and exported: the same pixels
    again = Task.load(str(tmp_path / "more"))
    pixels = np.asarray(fx.painting(70, 45, 5))
    expected = more.stylize([pixels])[0]
    np.testing.assert_allclose(again.stylize([pixels])[0], expected, atol=1e-6)
    exported = ExportedStylizer(more.export(str(tmp_path / "exported")))
    np.testing.assert_allclose(exported.stylize([pixels])[0], expected, atol=1e-5)


def test_distillation_errors_are_clear(distilled, tmp_path):
    from tasks.style_transfer.recipe import train
    from tasks.style_transfer.task import StyleTransferTask

    teacher, student, root, photos, style, small = distilled
    with pytest.raises(ValueError, match="teacher="):
        train(None, str(tmp_path / "bad"), style, preset="slim", epochs=1,
              teacher=str(tmp_path / "nowhere"), **small)
    task = StyleTransferTask(architecture="slim", teacher=str(root / "teacher"),
                             distill_weights=[0.0, 0.0])
    with pytest.raises(ValueError, match="distill_weights"):
        task.loss()
    from tasks.style_transfer.presets import ARBITRARY_DIR

    with pytest.raises(ValueError, match="expected a saved StyleTransferTask"):
        StyleTransferTask(architecture="slim", teacher=ARBITRARY_DIR).loss()
    with pytest.raises(ValueError, match="style_image"):
        StyleTransferTask(architecture="slim").start_recolour()
    with pytest.raises(ValueError, match="architecture='slim'"):
        StyleTransferTask().start_recolour()


def test_slim_net_runs_under_mixed_bfloat16(distilled):
    teacher, student, root, photos, style, small = distilled
    pixels = _image(40, 56)[None]
    fast = student.with_dtype_policy("mixed_bfloat16")
    out = fast.stylize_pixels(tf.constant(pixels)).numpy()
    reference = student.stylize_pixels(tf.constant(pixels)).numpy()
    assert out.dtype == np.float32 and out.shape == reference.shape
    assert np.abs(out - reference).mean() < 0.02
