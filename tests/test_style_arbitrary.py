"""The arbitrary-style (AdaIN) network: layer, network, data, training, export, pipeline, CLI."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import pipelines
from pipelines.cli import main
from tasks.core.task import Task
from tasks.style_transfer import presets
from tasks.style_transfer.adain import AdaptiveInstanceNorm, build_arbitrary_net
from tasks.style_transfer.arbitrary_task import ArbitraryStyleTask
from tasks.style_transfer.data import make_pair_dataset, split_pair_target
from tasks.style_transfer.loss_network import PerceptualLoss, build_extractor
from tests import style_fixtures as fx

TINY = {"widths": [4, 4, 8], "image_size": 32, "style_size": 48}


@pytest.fixture(scope="module")
def arbitrary_dir(tmp_path_factory):
    """A tiny arbitrary network trained a few steps on three paintings and saved."""
    from tasks.style_transfer.recipe import train_arbitrary

    root = tmp_path_factory.mktemp("arbitrary")
    for split, count in (("train", 3), ("test", 1)):
        os.makedirs(root / "data" / "content" / split)
        for i in range(count):
            fx.painting(96, 72, seed=20 + 10 * len(split) + i).save(
                root / "data" / "content" / split / f"{i}.jpg")
    styles = []
    for i in range(3):
        styles.append(str(root / f"style{i}.png"))
        fx.painting(80, 64, seed=40 + i).save(styles[-1])
    train_arbitrary(str(root / "data"), str(root / "saved"), epochs=1, steps_per_epoch=3,
                    batch_size=2, image_size=32, style_size=48, widths=[4, 4, 8],
                    style_images=styles, verbose=0)
    return root


def test_adain_gives_the_style_statistics_and_strength_blends():
    rng = np.random.default_rng(0)
    content = tf.constant(rng.normal(2.0, 3.0, (2, 6, 5, 4)), tf.float32)
    style = tf.constant(rng.normal(-1.0, 0.5, (1, 9, 7, 4)), tf.float32)
    layer = AdaptiveInstanceNorm()
    out = layer(content, style, tf.ones([2]))
    s_mean, s_var = tf.nn.moments(style, [1, 2])
    o_mean, o_var = tf.nn.moments(out, [1, 2])
    # one style broadcasts over the batch: every photo gets its statistics
    np.testing.assert_allclose(o_mean, np.repeat(s_mean, 2, 0), atol=1e-4)
    np.testing.assert_allclose(o_var, np.repeat(s_var, 2, 0), rtol=1e-3)
    np.testing.assert_allclose(layer(content, style, tf.zeros([2])), content, atol=1e-6)
    half = layer(content, style, tf.constant([0.5, 0.0]))
    np.testing.assert_allclose(half[0], (out[0] + content[0]) / 2, atol=1e-4)
    np.testing.assert_allclose(half[1], content[1], atol=1e-6)


def test_untrained_network_recolours_at_any_size():
    net = build_arbitrary_net((4, 4, 8))
    for shape in ((1, 37, 50, 3), (2, 64, 33, 3)):
        photo = np.random.default_rng(1).uniform(0.3, 0.6, shape).astype("float32")
        style = np.random.default_rng(2).uniform(0.1, 0.3, (1, 45, 61, 3)).astype("float32")
        style[..., 2] += 0.6

        def run(strength):
            return net({"content": photo, "style": style,
                        "strength": np.full(shape[:1], strength, "float32")}).numpy()

        # strength 0: the photograph; 1: its colours moved to the style's statistics
        np.testing.assert_allclose(run(0.0), photo, atol=1e-5)
        out = run(1.0)
        assert out.shape == shape
        np.testing.assert_allclose(out.mean((1, 2)), np.repeat(style.mean((1, 2)), shape[0], 0),
                                   atol=2e-3)
        np.testing.assert_allclose(out.std((1, 2)), np.repeat(style.std((1, 2)), shape[0], 0),
                                   atol=2e-3)


def test_pair_dataset_is_seeded_and_stacks_content_and_style(tmp_path):
    photos, paintings = [], []
    for i in range(3):
        photos.append(str(tmp_path / f"p{i}.jpg"))
        fx.painting(90, 70, seed=i).save(photos[-1])
        paintings.append(str(tmp_path / f"s{i}.png"))
        fx.painting(60, 80, seed=10 + i).save(paintings[-1])
    first = list(make_pair_dataset(photos, paintings, 32, 2, style_side=40, seed=3).take(2))
    again = list(make_pair_dataset(photos, paintings, 32, 2, style_side=40, seed=3).take(2))
    x, y = first[0]
    assert x["content"].shape == x["style"].shape == (2, 32, 32, 3) and y.shape == (2, 32, 32, 6)
    np.testing.assert_array_equal(x["strength"], [1.0, 1.0])
    np.testing.assert_array_equal(y, tf.concat([x["content"], x["style"]], -1))
    for (a, _), (b, _) in zip(first, again):
        np.testing.assert_array_equal(a["style"], b["style"])
    with pytest.raises(ValueError, match="style_paths"):
        make_pair_dataset(photos, [], 32)
    # photos larger than the painting's inference scale: painting crops of style_side,
    # zero-padded in the target and cut back out of it
    x, y = next(iter(make_pair_dataset(photos, paintings, 64, 2, style_side=48, seed=3)))
    assert x["content"].shape == (2, 64, 64, 3) and x["style"].shape == (2, 48, 48, 3)
    content, style = split_pair_target(y, 48)
    np.testing.assert_array_equal(content, x["content"])
    np.testing.assert_array_equal(style, x["style"])
    assert not np.any(y[:, 48:, :, 3:]) and not np.any(y[:, :, 48:, 3:])
    with pytest.raises(ValueError, match="style_crop"):
        make_pair_dataset(photos, paintings, 64, style_side=48, style_crop=64)


def test_paired_terms_equal_one_style_terms_per_example():
    extractor = build_extractor()
    rng = np.random.default_rng(4)
    content, style, out = (tf.constant(rng.uniform(0, 1, (2, 40, 40, 3)), tf.float32)
                           for _ in range(3))
    paired = PerceptualLoss(extractor).paired_terms(content, style, out)
    singles = [PerceptualLoss(extractor, style[i]).terms(content[i:i + 1], out[i:i + 1])
               for i in range(2)]
    for key in ("style", "content", "tv"):
        # the content term is normalised over the batch, the others per example: close, not equal
        expected = np.mean([float(s[key]) for s in singles])
        assert float(paired[key]) == pytest.approx(expected, rel=0.15 if key == "content" else 1e-4)
    # a style batch of another size than the photos: its own pass, the same terms
    small = tf.image.resize(style, [32, 32])
    paired = PerceptualLoss(extractor).paired_terms(content, small, out)
    singles = [PerceptualLoss(extractor, small[i]).terms(content[i:i + 1], out[i:i + 1])
               for i in range(2)]
    assert float(paired["style"]) == pytest.approx(
        np.mean([float(s["style"]) for s in singles]), rel=1e-4)
    with pytest.raises(ValueError, match="style_targets"):
        PerceptualLoss(extractor).terms(content, out)


def test_saved_network_reloads_and_strength_changes_the_result(arbitrary_dir):
    task = Task.load(str(arbitrary_dir / "saved"))
    assert isinstance(task, ArbitraryStyleTask) and task.config["widths"] == [4, 4, 8]
    photo, style = np.asarray(fx.painting(50, 40, seed=5)), np.asarray(fx.painting(70, 60, seed=6))
    full = task.stylize([photo], style)[0]
    again = Task.load(str(arbitrary_dir / "saved")).stylize([photo], style)[0]
    assert full.shape == (40, 50, 3) and np.array_equal(full, again)
    none = task.stylize([photo], style, strength=0.0)[0]
    assert not np.allclose(full, none, atol=1e-3)
    with pytest.raises(ValueError, match="strength"):
        task.stylize([photo], style, strength=2.0)
    with pytest.raises(ValueError, match="style image is 20x20"):
        task.stylize([photo], np.zeros((20, 20, 3), np.uint8))


def test_a_saved_network_trains_further_at_a_new_crop_size(arbitrary_dir, tmp_path):
    from tasks.style_transfer.recipe import train_arbitrary

    loaded = Task.load(str(arbitrary_dir / "saved"))
    before = [w.copy() for w in loaded.model.get_weights()]
    styles = sorted(str(p) for p in arbitrary_dir.glob("style*.png"))
    more = train_arbitrary(str(arbitrary_dir / "data"), str(tmp_path / "more"), epochs=1,
                           steps_per_epoch=2, batch_size=2, image_size=56, style_size=48,
                           style_images=styles, task=loaded, seed=1, verbose=0)
    # the saved network (not the preset's) went on training, on this run's crops: photos
    # larger than the paintings' inference scale, so 48² painting crops
    assert more is loaded and more.config["widths"] == [4, 4, 8]
    assert more.config["image_size"] == 56 and more.style_crop() == 48
    assert any(not np.array_equal(a, b) for a, b in zip(before, more.model.get_weights()))
    assert Task.load(str(tmp_path / "more")).config["image_size"] == 56
    with pytest.raises(TypeError, match="ArbitraryStyleTask"):
        train_arbitrary(str(arbitrary_dir / "data"), str(tmp_path / "bad"), epochs=1,
                        style_images=styles, task=object())
    with pytest.raises(ValueError, match="widths"):
        train_arbitrary(str(arbitrary_dir / "data"), str(tmp_path / "bad"), epochs=1,
                        style_images=styles, task=loaded, widths=[8, 8, 8])


def test_pipeline_uses_the_arbitrary_network_for_a_style_image(arbitrary_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(presets, "ARBITRARY_DIR", str(arbitrary_dir / "saved"))
    photo, painting = fx.painting(64, 48, seed=7), fx.painting(72, 60, seed=8)
    path = str(tmp_path / "painting.png")
    painting.save(path)
    out = pipelines.stylize(photo, style=path)
    assert isinstance(out, Image.Image) and out.size == (64, 48)
    for other in (fx.png_bytes(painting), np.asarray(painting), painting):
        assert np.array_equal(np.asarray(pipelines.stylize(photo, style=other)), np.asarray(out))
    task = Task.load(str(arbitrary_dir / "saved"))
    expected = task.stylize([np.asarray(photo)], np.asarray(painting))[0]
    assert np.abs(np.asarray(out, np.float32) / 255.0 - expected).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="style .*corrupt|style .*truncated"):
        pipelines.stylize(photo, style=fx.png_bytes(painting)[:200])
    with pytest.raises(ValueError, match="style is 20x20"):
        pipelines.stylize(photo, style=np.zeros((20, 20, 3), np.uint8))
    # a network of the user's own goes in model=; a network is not a style, nor the reverse
    saved = str(arbitrary_dir / "saved")
    monkeypatch.setattr(presets, "ARBITRARY_DIR", str(tmp_path / "nowhere"))
    mine = pipelines.stylize(photo, style=path, model=saved)
    assert np.array_equal(np.asarray(mine), np.asarray(out))
    assert np.array_equal(np.asarray(pipelines.stylize(photo, style=path, model=task)),
                          np.asarray(out))
    with pytest.raises(ValueError, match="is an arbitrary-style network, not a style"):
        pipelines.stylize(photo, style=saved)
    with pytest.raises(ValueError, match="is an arbitrary-style network, not a style"):
        pipelines.stylize(photo, style=task)
    with pytest.raises(ValueError, match="model='great_wave' is a fast network"):
        pipelines.stylize(photo, style=path, model="great_wave")
    with pytest.raises(ValueError, match="takes no model"):
        pipelines.stylize(photo, style="great_wave", model=saved)
    with pytest.raises(ValueError, match="takes no model"):
        pipelines.stylize(photo, style=path, model=saved, method="optimize")
    with pytest.raises(ValueError, match="is not a preset"):
        pipelines.stylize(photo, style=path, model=str(tmp_path / "nope"))


def test_export_takes_a_content_and_a_style_image(arbitrary_dir, tmp_path, stock_tf):
    exported = str(tmp_path / "exported")
    assert main(["export", "style", "--model", str(arbitrary_dir / "saved"),
                 "--output", exported]) == 0
    task = Task.load(str(arbitrary_dir / "saved"))
    # TF Serving's view: only tensorflow installed; a photo and a painting per example
    photos, paintings = [], []
    for i in range(2):
        photos.append(str(tmp_path / f"photo{i}.png"))
        fx.painting(64 - 8 * i, 48, seed=30 + i).save(photos[-1])
        paintings.append(str(tmp_path / f"painting{i}.png"))
        fx.painting(56, 70, seed=40 + i).save(paintings[-1])
    served = fx.serve_in_stock_tensorflow(stock_tf, exported, str(tmp_path), photos, paintings)
    assert served["modules"] == [] and served["signatures"] == ["serving_default", "stylize_pixels"]
    assert served["inputs"] == {"images": ["string", [None]], "styles": ["string", [None]],
                                "strength": ["float32", [None]]}
    for photo, painting, out in zip(photos, paintings, served["outputs"]):
        expected = task.stylize([np.asarray(Image.open(photo))], np.asarray(Image.open(painting)))[0]
        got = np.asarray(Image.open(out), np.float32) / 255.0
        assert np.abs(got - expected).max() <= 0.5 / 255 + 1e-6
    loaded = tf.saved_model.load(exported)
    photo, painting = fx.painting(64, 48, seed=9), fx.painting(50, 70, seed=10)
    expected = task.stylize([np.asarray(photo)], np.asarray(painting), strength=0.7)[0]
    out = loaded.signatures["serving_default"](
        images=tf.constant([fx.png_bytes(photo)]), styles=tf.constant([fx.png_bytes(painting)]),
        strength=tf.constant([0.7]))["images"]
    served = tf.io.decode_png(out[0]).numpy().astype(np.float32) / 255.0
    assert np.abs(served - expected).max() <= 0.5 / 255 + 1e-6
    exported_model = ArbitraryStyleTask.exported_class(exported)
    pixels = exported_model.stylize([np.asarray(photo)], np.asarray(painting), strength=0.7)[0]
    np.testing.assert_allclose(pixels, expected, atol=1e-5)
    # the pipeline tells the export apart from a fast network's by its signature
    out = pipelines.stylize(photo, style=painting, model=exported, strength=0.7)
    assert np.abs(np.asarray(out, np.float32) / 255.0 - expected).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ValueError, match="is an arbitrary-style network, not a style"):
        pipelines.stylize(photo, style=exported)


def test_cli_trains_evaluates_and_stylizes_with_a_style_image(arbitrary_dir, tmp_path, capsys,
                                                              monkeypatch):
    painting = str(tmp_path / "painting.png")
    fx.painting(64, 64, seed=11).save(painting)
    assert main(["train", "style", "--arbitrary", "--style-images", painting,
                 "--data", str(arbitrary_dir / "data"), "--output", str(tmp_path / "trained"),
                 "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2",
                 "--image-size", "32", "--style-size", "48"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["saved"] == str(tmp_path / "trained")
    assert main(["train", "style", "--data", str(arbitrary_dir / "data"),
                 "--output", str(tmp_path / "x")]) == 2
    assert "--arbitrary" in capsys.readouterr().err
    assert main(["evaluate", "style", "--model", str(arbitrary_dir / "saved"),
                 "--data", str(arbitrary_dir / "data"), "--style-image", painting,
                 "--size", "48", "--limit", "1", "--steps", "2"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["images"] == 1 and result["fast_loss"] > 0 and result["optimized_loss"] > 0
    assert main(["evaluate", "style", "--model", str(arbitrary_dir / "saved"),
                 "--data", str(arbitrary_dir / "data")]) == 2
    monkeypatch.setattr(presets, "ARBITRARY_DIR", str(arbitrary_dir / "saved"))
    photo = str(tmp_path / "photo.png")
    fx.painting(40, 36, seed=12).save(photo)
    assert main(["stylize", photo, "--style", painting, "-o", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "out.png").size == (40, 36)
    monkeypatch.setattr(presets, "ARBITRARY_DIR", str(tmp_path / "nowhere"))
    assert main(["stylize", photo, "--style", painting, "--model", str(tmp_path / "trained"),
                 "-o", str(tmp_path / "mine.png")]) == 0
    assert Image.open(tmp_path / "mine.png").size == (40, 36)
    assert main(["stylize", photo, "--style", "great_wave", "--model", str(tmp_path / "trained"),
                 "-o", str(tmp_path / "no.png")]) == 2
    assert "takes no model" in capsys.readouterr().err


def test_missing_arbitrary_network_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(presets, "ARBITRARY_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="arbitrary-style network is missing.*method='optimize'"):
        pipelines.stylize(fx.painting(48, 40), style=fx.painting(48, 48, seed=1))
    from pipelines import registry

    assert registry.preset_owner("stylize", "arbitrary") is ArbitraryStyleTask
    assert registry.preset_owner("stylize", "great_wave").name == "style_transfer"


def test_a_fixed_style_network_starts_as_the_arbitrary_one_and_trains_for_its_painting(
        arbitrary_dir, tmp_path, stock_tf):
    from tasks.style_transfer.recipe import train
    from tasks.style_transfer.task import StyleTransferTask, load_style_image

    arbitrary = Task.load(str(arbitrary_dir / "saved"))
    painting = str(arbitrary_dir / "style1.png")
    task = StyleTransferTask(architecture="adain", widths=[4, 4, 8], style_image=painting,
                             style_size=48)
    photo = tf.constant(np.asarray(fx.painting(50, 40, seed=9), np.float32)[None] / 255.0)
    untouched = task.model(photo).numpy()
    task.start_from_arbitrary(arbitrary)
    # the same network as the arbitrary one given that painting: encoder, decoder and the
    # painting's statistics at every AdaIN
    style = load_style_image(painting, 48)[None]
    expected = arbitrary.model({"content": photo, "style": style, "strength": tf.ones([1])})
    np.testing.assert_allclose(task.model(photo).numpy(), expected.numpy(), atol=1e-5)
    assert not np.allclose(untouched, expected.numpy(), atol=1e-3)
    with pytest.raises(ValueError, match="widths"):
        StyleTransferTask(architecture="adain", widths=[4, 8, 8], style_image=painting) \
            .start_from_arbitrary(arbitrary)
    with pytest.raises(ValueError, match="architecture='adain'"):
        StyleTransferTask(style_image=painting).start_from_arbitrary(arbitrary)
    with pytest.raises(ValueError, match="architecture='johnson' is not one of"):
        StyleTransferTask(architecture="johnson")

    # the recipe starts a fast_adain network from the given arbitrary network and trains it
    trained = train(str(arbitrary_dir / "data"), str(tmp_path / "fixed"), painting,
                    preset="fast_adain", epochs=1, steps_per_epoch=2, batch_size=2,
                    image_size=32, style_size=48, widths=[4, 4, 8],
                    arbitrary=str(arbitrary_dir / "saved"), verbose=0)
    assert not np.allclose(trained.model(photo).numpy(), expected.numpy(), atol=1e-6)
    loaded = Task.load(str(tmp_path / "fixed"))
    assert isinstance(loaded, StyleTransferTask) and loaded.config["architecture"] == "adain"
    np.testing.assert_array_equal(loaded.model(photo).numpy(), trained.model(photo).numpy())
    # the border holds no weights: loading with another one rebuilds the same weights around it
    from tasks.style_transfer.adain import network_border
    narrow = Task.load(str(tmp_path / "fixed"), border=8)
    assert network_border(loaded.model) == 32 and network_border(narrow.model) == 8
    for a, b in zip(narrow.model.get_weights(), loaded.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(narrow.model(photo).numpy(), loaded.model(photo).numpy(), atol=1e-6)
    out = loaded.stylize([np.asarray(fx.painting(70, 45, seed=10))])[0]
    assert out.shape == (45, 70, 3) and 0.0 <= out.min() and out.max() <= 1.0

    # it exports and serves as a fast network does: bytes in, PNG bytes out, stock TF only
    exported = str(tmp_path / "exported")
    assert main(["export", "style", "--model", str(tmp_path / "fixed"), "--output", exported]) == 0
    photo_path = str(tmp_path / "photo.png")
    fx.painting(64, 48, seed=11).save(photo_path)
    served = fx.serve_in_stock_tensorflow(stock_tf, exported, str(tmp_path), [photo_path])
    assert served["modules"] == [] and served["signatures"] == ["serving_default", "stylize_pixels"]
    expected = np.asarray(pipelines.stylize(photo_path, style=str(tmp_path / "fixed")), np.int16)
    assert np.abs(np.asarray(Image.open(served["outputs"][0]), np.int16) - expected).max() <= 1
