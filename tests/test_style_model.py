"""Style transfer: loss networks, the perceptual loss, Gatys optimisation, the fast network,
the task (train, save/load, export) on tiny sizes."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests import style_fixtures as fx


@pytest.fixture(scope="module")
def extractor():
    from tasks.style_transfer.loss_network import build_extractor

    return build_extractor()


def _image(h, w, seed=0):
    return np.asarray(fx.painting(w, h, seed), np.float32) / 255.0


def _other_style(h, w):
    """A painting with other colours and orientation than ``_image``'s."""
    return np.ascontiguousarray(1.0 - _image(h, w, 1)[:, ::-1, ::-1])


def test_bundled_extractor_takes_any_size_and_names_its_layers(extractor):
    from tasks.style_transfer.loss_network import NETWORKS

    spec = NETWORKS["mobilenet_v2_nsfwjs"]
    assert extractor.style_layers == spec["style"] and extractor.content_layers == spec["content"]
    for h, w in ((64, 64), (70, 90)):
        outputs = extractor(_image(h, w)[None])
        assert len(outputs) == len(spec["style"]) + len(spec["content"])
        np.testing.assert_allclose(outputs[0].numpy(), _image(h, w)[None] * 2 - 1, atol=1e-6)
    assert not extractor.trainable_weights


def test_vgg_needs_a_local_weights_file_and_loads_it(tmp_path):
    from tasks.style_transfer.loss_network import build_extractor

    with pytest.raises(ValueError, match="local file"):
        build_extractor("vgg16", weights=str(tmp_path / "absent.h5"))
    with pytest.raises(ValueError, match="not one of"):
        build_extractor("resnet")
    # a weights file in keras.applications' layout, from a seeded random VGG16
    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = str(tmp_path / "vgg16_notop.weights.h5")
    source.save_weights(path)
    loaded = build_extractor("vgg16", weights=path)
    inner = [layer for layer in loaded.layers if isinstance(layer, keras.Model)][0]
    np.testing.assert_array_equal(inner.get_layer("block1_conv1").get_weights()[0],
                                  source.get_layer("block1_conv1").get_weights()[0])


def test_perceptual_loss_is_zero_at_its_targets(extractor):
    from tasks.style_transfer.loss_network import PerceptualLoss

    content, style = _image(64, 64, 2)[None], _other_style(64, 64)[None]
    loss = PerceptualLoss(extractor, style)
    at_content = loss.terms(content, content)
    assert float(at_content["content"]) == pytest.approx(0.0, abs=1e-6)
    assert float(at_content["style"]) > 0.1
    at_style = loss.terms(content, style)
    assert float(at_style["style"]) == pytest.approx(0.0, abs=1e-5)
    assert float(at_style["content"]) > 0.01
    with pytest.raises(ValueError, match="layer_weights"):
        PerceptualLoss(extractor, style, layer_weights=[1.0])


def test_gatys_optimisation_lowers_the_loss(extractor):
    from tasks.style_transfer.optimize import optimize_image

    result = optimize_image(_image(48, 48, 2), _other_style(48, 48), extractor, steps=20,
                            log_every=5, progress=False)
    assert result.image.shape == (48, 48, 3)
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert result.history[-1]["total"] < 0.8 * result.history[0]["total"]
    assert [h["step"] for h in result.history] == [0, 5, 10, 15, 20]
    with pytest.raises(ValueError, match="RGB image"):
        optimize_image(np.zeros((4, 4)), _image(40, 40), extractor, steps=1, progress=False)
    with pytest.raises(ValueError, match="at least 32 pixels"):
        optimize_image(_image(40, 20), _image(40, 40), extractor, steps=1, progress=False)


def test_transform_net_is_the_identity_at_start_and_keeps_any_size():
    from tasks.style_transfer.model import build_transform_net

    net = build_transform_net(filters=(4, 8, 8), residual_blocks=1)
    for h, w in ((33, 47), (64, 64), (17, 21)):
        x = _image(h, w)[None]
        y = net(x).numpy()
        assert y.shape == x.shape
        np.testing.assert_allclose(y, np.clip(x, 1e-3, 1 - 1e-3), atol=1e-5)
    with pytest.raises(ValueError, match="three widths"):
        build_transform_net(filters=(4, 8))


def test_reflect_pad_and_crop_round_trip_any_size():
    from tasks.style_transfer.model import CropLike, ReflectPad

    for h, w in ((17, 30), (64, 64), (33, 47)):
        x = _image(h, w)[None]
        padded = ReflectPad(16, 4)(x).numpy()
        assert padded.shape[1] % 4 == 0 and padded.shape[2] % 4 == 0
        assert padded.shape[1] >= h + 32 and padded.shape[2] >= w + 32
        # the border mirrors the image (no zeros for the convolutions to see)
        np.testing.assert_array_equal(padded[0, 15, 16:16 + w], x[0, 1])
        np.testing.assert_array_equal(padded[0, 16:16 + h, 15], x[0, :, 1])
        np.testing.assert_array_equal(CropLike(16)(padded, x).numpy(), x)
        # the same values as tf.pad's mirror modes (which it replaces for speed)
        for border, multiple in ((16, 4), (2, 1), (0, 8), (3, 8)):
            expected = tf.pad(x, [[0, 0], [border] * 2, [border] * 2, [0, 0]], mode="REFLECT")
            extra = [(-d) % multiple for d in expected.shape[1:3]]
            expected = tf.pad(expected, [[0, 0], [0, extra[0]], [0, extra[1]], [0, 0]],
                              mode="SYMMETRIC")
            small, large = ReflectPad(border, multiple), ReflectPad(border, multiple)
            large.concat_max_values = 0  # the MirrorPad path, which large tensors take
            for layer in (small, large):
                np.testing.assert_array_equal(layer(x).numpy(), expected.numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="must exceed the border"):
        ReflectPad(16, 4)(np.zeros([1, 16, 40, 3], np.float32))


def _tiny_task(style_path, **overrides):
    from tasks.style_transfer.task import StyleTransferTask

    keras.utils.set_random_seed(0)
    return StyleTransferTask(style_image=style_path, filters=[4, 8, 8], residual_blocks=1,
                             style_size=48, image_size=32, **overrides)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny task trained a few steps on generated photos, saved."""
    from tasks.style_transfer.recipe import train

    root = tmp_path_factory.mktemp("style")
    style = str(root / "style.png")
    Image.fromarray(np.uint8(_other_style(64, 64) * 255)).save(style)
    photos = []
    for i in range(4):
        path = str(root / f"photo{i}.jpg")
        fx.painting(96, 80, seed=i).save(path)
        photos.append(path)
    task = train(None, str(root / "saved"), style, epochs=2, steps_per_epoch=6, batch_size=2,
                 image_size=32, style_size=48, content_images=photos, learning_rate=5e-3,
                 filters=[4, 8, 8], residual_blocks=1, verbose=0)
    return task, root, photos


def test_training_lowers_the_perceptual_loss_and_saves(trained):
    task, root, _ = trained
    losses = task.model.history.history["loss"]
    assert losses[-1] < losses[0]
    assert os.path.isfile(root / "saved" / "task.json")
    assert task.training_seconds > 0


def test_a_saved_network_trains_further_from_its_weights(trained, tmp_path):
    from tasks.core.task import Task
    from tasks.style_transfer.recipe import train

    task, root, photos = trained
    loaded = Task.load(str(root / "saved"))
    before = [w.copy() for w in loaded.model.get_weights()]
    style = task.config["style_image"]
    more = train(None, str(tmp_path / "more"), style, epochs=1, steps_per_epoch=2, batch_size=2,
                 image_size=32, style_size=48, content_images=photos, learning_rate=1e-3,
                 task=loaded, seed=1, verbose=0)
    assert more is loaded and more.config["filters"] == [4, 8, 8]  # not the preset's network
    # it starts where the first run ended, not from a fresh initialisation: two small steps
    # move the weights far less than a new network's differ from the saved ones
    after = more.model.get_weights()
    fresh = _tiny_task(style).model.get_weights()
    moved = max(float(np.abs(a - b).max()) for a, b in zip(before, after))
    apart = max(float(np.abs(a - b).max()) for a, b in zip(before, fresh))
    assert 0.0 < moved < apart / 10, (moved, apart)
    with pytest.raises(TypeError, match="StyleTransferTask"):
        train(None, str(tmp_path / "bad"), style, epochs=1, content_images=photos,
              task=object())
    with pytest.raises(ValueError, match="filters"):
        train(None, str(tmp_path / "bad"), style, epochs=1, content_images=photos,
              task=loaded, filters=[8, 8, 8])


def test_saved_task_stylizes_like_the_live_one(trained):
    from tasks.core.task import Task

    task, root, photos = trained
    loaded = Task.load(str(root / "saved"))
    with open(photos[0], "rb") as f:
        data = f.read()
    pixels = np.asarray(fx.painting(60, 40, 5))
    live = task.stylize([data, pixels])
    again = loaded.stylize([data, pixels])
    for a, b in zip(live, again):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert live[0].shape == (80, 96, 3) and live[1].shape == (40, 60, 3)
    # strength 0 gives the input back; size resizes the longer side
    np.testing.assert_allclose(task.stylize([pixels], strength=0.0)[0], pixels / 255.0, atol=1e-6)
    assert task.stylize([pixels], size=50)[0].shape == (33, 50, 3)
    with pytest.raises(ValueError, match="at least 32 pixels"):
        task.stylize([pixels], size=40)
    with pytest.raises(ValueError, match="strength"):
        task.stylize([pixels], strength=1.5)


def test_export_serves_bytes_and_pixels_in_stock_tensorflow(trained, tmp_path, stock_tf):
    from tasks.style_transfer.task import ExportedStylizer

    task, root, photos = trained
    path = task.export(str(tmp_path / "exported"))
    with open(photos[1], "rb") as f:
        data = f.read()
    expected = task.stylize([data])[0]
    exported = ExportedStylizer(path)
    got = exported.stylize([data])[0]
    np.testing.assert_allclose(got, expected, atol=1.0 / 255 + 1e-6)  # PNG rounding
    pixels = np.asarray(fx.painting(48, 36, 3))
    np.testing.assert_allclose(exported.stylize([pixels])[0], task.stylize([pixels])[0], atol=1e-5)
    out = fx.serve_in_stock_tensorflow(stock_tf, path, str(tmp_path), [photos[1]])
    assert out["modules"] == [] and out["signatures"] == ["serving_default", "stylize_pixels"], out
    served = np.asarray(Image.open(out["outputs"][0])).astype(np.int64)
    assert served.shape == expected.shape
    # the same pixels up to the uint8 rounding of values that lie on a .5 boundary, where
    # the two environments' float arithmetic (oneDNN paths) may differ in the last bit
    difference = np.abs(served - np.round(expected * 255).astype(np.int64))
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3, (difference.max(),
                                                                      (difference > 0).sum())


def test_config_errors_are_clear(tmp_path):
    from tasks.style_transfer.task import StyleTransferTask

    with pytest.raises(ValueError, match="loss_network"):
        StyleTransferTask(loss_network="alexnet")
    task = StyleTransferTask(filters=[4, 8, 8], residual_blocks=1)
    with pytest.raises(ValueError, match="style_image"):
        task.perceptual_loss()


def test_no_convolution_pads_with_zeros():
    # zero ("same") padding tells a network where the image ends; trained with it, the
    # fast networks painted bands of style colour along the bottom or right edge
    from tasks.style_transfer.adain import build_arbitrary_net
    from tasks.style_transfer.model import build_transform_net

    for net in (build_transform_net(), build_arbitrary_net()):
        convs = [layer for layer in net.layers if "conv" in type(layer).__name__.lower()]
        assert convs and all(layer.padding == "valid" for layer in convs), net.name
