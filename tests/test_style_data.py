"""Style-transfer data: Qt resource bundles, puzzle reassembly, licences, the build, TF.js
weights and the training pipeline."""

import json
import os

import numpy as np
import pytest

from tests import style_fixtures as fx


def test_qt_resources_round_trip_plain_and_compressed():
    from tasks.style_transfer.qt_resources import read_qt_resources

    files = {"a/b/one.txt": b"first file", "a/two.bin": bytes(range(256)) * 4, "top.txt": b""}
    for version in (1, 2, 3):
        blob = fx.write_qt_resources(files, version=version, compress={"a/two.bin"})
        assert read_qt_resources(blob) == files
    with pytest.raises(ValueError, match="qres"):
        read_qt_resources(b"not a bundle at all")


def test_puzzle_tiles_are_put_back_into_the_painting(tmp_path):
    from tasks.style_transfer.data import _bundle, assemble_paintings

    art = fx.gcompris_tree(str(tmp_path))
    [(title, image)] = assemble_paintings(_bundle(str(tmp_path), "paintings"))
    assert title == "Jane Painter, The Test Painting - 1900"
    assert image.size == art.size
    # lossless tiles, pasted at their centres: the painting comes back exactly
    assert np.array_equal(np.asarray(image), np.asarray(art))


def test_licences_come_from_the_shipped_file_names_not_the_sources():
    from tasks.style_transfer.data import readme_licences, slug

    text = ("Copyright: X\nSource: https://example.org/wiki/File:Big_Original.jpg\n"
            "License: CC-BY-SA-4.0\nFiles: alpaca.webp\n\n"
            "Copyright: Y\nLicense: Public Domain\nFiles:\nwonders/colosseum.webp\nbee.webp\n\n"
            "Copyright: Z\nFiles: nolicence.webp\n")
    assert readme_licences(text) == {"alpaca.webp": "CC-BY-SA-4.0",
                                     "colosseum.webp": "Public Domain", "bee.webp": "Public Domain"}
    assert slug("Katsushika Hokusai, The Great Wave off Kanagawa - 1823-1829") == \
        "great_wave_off_kanagawa"


def test_build_layout_licences_split_and_reuse(tmp_path, monkeypatch):
    from tasks.style_transfer import data

    trees = {"gcompris-qt-data": str(tmp_path / "gcompris"), "mate-backgrounds": str(tmp_path / "mate")}
    fx.gcompris_tree(trees["gcompris-qt-data"])
    fx.mate_tree(trees["mate-backgrounds"])
    calls = []

    def fake_fetch(name, version, cache, allow_other_version=False):
        calls.append(name)
        return trees[name], version

    monkeypatch.setattr(data, "fetch_package", fake_fetch)
    monkeypatch.setattr(data, "TEST_IMAGES", 3)
    root = str(tmp_path / "built")
    manifest = data.build_style_data(root, progress=False)
    # 8 licensed photos (2 per bundle; unlicensed and too-small ones skipped) + 5 MATE ones
    assert manifest["counts"] == {"styles": 2, "content_train": 10, "content_test": 3}
    assert sorted(data.style_images(root)) == ["test_painting", "van_gogh_vangoghtest"]
    train, test = data.train_images(root), data.test_images(root)
    assert not {os.path.basename(p) for p in train} & {os.path.basename(p) for p in test}
    entries = {f["path"]: f for f in manifest["files"]}
    assert entries["styles/van_gogh_vangoghtest.jpg"]["licence"] == "Public domain"
    assert all(f["licence"] for f in manifest["files"])
    assert not any("unlicensed" in p or "tiny" in p for p in entries)
    with open(os.path.join(root, "manifest.json")) as f:
        assert json.load(f)["counts"] == manifest["counts"]
    # a complete build is reused without fetching anything
    calls.clear()
    assert data.build_style_data(root, progress=False)["counts"] == manifest["counts"]
    assert calls == []
    with pytest.raises(ValueError, match="build-data style"):
        data.train_images(str(tmp_path / "empty"))


def test_training_crops_are_seeded_square_and_in_range(tmp_path):
    from tasks.style_transfer.data import make_dataset

    paths = []
    for i in range(3):
        path = str(tmp_path / f"p{i}.jpg")
        fx.painting(300, 200, seed=i).save(path)
        paths.append(path)
    first = [x.numpy() for x, _ in make_dataset(paths, 64, 2, seed=1, cache_side=128).take(3)]
    again = [x.numpy() for x, _ in make_dataset(paths, 64, 2, seed=1, cache_side=128).take(3)]
    other = [x.numpy() for x, _ in make_dataset(paths, 64, 2, seed=2, cache_side=128).take(3)]
    assert first[0].shape == (2, 64, 64, 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert min(a.min() for a in first) >= 0.0 and max(a.max() for a in first) <= 1.0
    x, y = next(iter(make_dataset(paths, 64, 2, seed=1, cache_side=128)))
    assert np.array_equal(x.numpy(), y.numpy())  # the target is the content itself


def test_tfjs_weights_decode_quantised_and_float(tmp_path):
    from tasks.style_transfer.tfjs import decode_weights, read_layers_model

    rng = np.random.default_rng(0)
    arrays = {"conv/kernel": rng.normal(size=(3, 3, 2, 4)), "conv/bias": rng.normal(size=(4,))}
    expected = fx.tfjs_model(str(tmp_path / "m"), arrays, quantize={"conv/kernel"})
    _, weights = read_layers_model(str(tmp_path / "m" / "model.json"))
    for name in arrays:
        np.testing.assert_allclose(weights[name], expected[name], rtol=1e-6, atol=1e-6)
    # quantisation error is at most half a step
    step = (arrays["conv/kernel"].max() - arrays["conv/kernel"].min()) / 255
    assert np.abs(weights["conv/kernel"] - arrays["conv/kernel"]).max() <= step / 2 + 1e-6
    with open(tmp_path / "m" / "model.json") as f:
        manifest = json.load(f)["weightsManifest"]
    with pytest.raises(ValueError, match="end early"):
        decode_weights(manifest, b"\0" * 10)
    with pytest.raises(ValueError, match="no TF.js model.json"):
        read_layers_model(str(tmp_path / "missing.json"))


def test_tfjs_weights_load_into_keras_layers_by_name():
    import keras

    from tasks.style_transfer.tfjs import assign_by_layer_name

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv", use_bias=False)(inputs)
    x = keras.layers.DepthwiseConv2D(3, name="dw", use_bias=False)(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(1)
    weights = {"conv/kernel": rng.normal(size=(3, 3, 3, 4)).astype("float32"),
               "dw/depthwise_kernel": rng.normal(size=(3, 3, 4, 1)).astype("float32")}
    assert assign_by_layer_name(model, weights) == 2
    np.testing.assert_array_equal(model.get_layer("dw").get_weights()[0],
                                  weights["dw/depthwise_kernel"])
    with pytest.raises(ValueError, match="lack"):
        assign_by_layer_name(model, {"conv/kernel": weights["conv/kernel"]})


def test_bundled_loss_network_is_the_converted_one():
    from tasks.style_transfer.loss_network import BUNDLED, WEIGHTS

    with open(os.path.join(WEIGHTS, "mobilenet_v2_nsfwjs.json")) as f:
        provenance = json.load(f)
    assert provenance["package"] == "nsfwjs@4.4.0" and provenance["licence"] == "MIT License"
    assert os.path.getsize(BUNDLED) < 3_000_000
