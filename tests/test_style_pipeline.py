"""pipelines.stylize and the style CLI verbs, on a tiny trained style network."""

import json
import os
import types

import numpy as np
import pytest
from PIL import Image

import pipelines
from concurrency import in_threads_then_in_turn
from pipelines.cli import main
from tests import style_fixtures as fx


@pytest.fixture(scope="module")
def style_dir(tmp_path_factory):
    """A tiny style network trained a few steps and saved; the data folder it came from."""
    from tasks.style_transfer.recipe import train

    root = tmp_path_factory.mktemp("style_pipeline")
    style = str(root / "painting.png")
    Image.fromarray(np.uint8(255 - np.asarray(fx.painting(64, 64, 7))[:, ::-1])).save(style)
    for split, count in (("train", 3), ("test", 2)):
        os.makedirs(root / "data" / "content" / split)
        for i in range(count):
            fx.painting(96, 72, seed=10 * len(split) + i).save(root / "data" / "content" / split / f"{i}.jpg")
    train(str(root / "data"), str(root / "saved"), style, epochs=1, steps_per_epoch=4, batch_size=2,
          image_size=32, style_size=48, filters=[4, 8, 8], residual_blocks=1, verbose=0)
    return root


def _huge_png(width, height):
    """A small file (a 1-bit PNG) that declares ``width`` x ``height`` pixels."""
    return fx.png_bytes(Image.new("1", (width, height)))


def test_every_input_kind_gives_the_same_picture(style_dir, tmp_path):
    model = str(style_dir / "saved")
    photo = fx.painting(80, 60, seed=3)
    path = str(tmp_path / "photo.png")
    photo.save(path)
    from_path = pipelines.stylize(path, style=model)
    assert isinstance(from_path, Image.Image) and from_path.size == (80, 60)
    for other in (fx.png_bytes(photo), np.asarray(photo), photo):
        assert np.array_equal(np.asarray(pipelines.stylize(other, style=model)), np.asarray(from_path))
    both = pipelines.stylize([path, photo], style=model)
    assert isinstance(both, list) and len(both) == 2
    # grayscale and RGBA arrays are accepted as RGB
    gray = np.asarray(photo.convert("L"))
    assert pipelines.stylize(gray, style=model).size == (80, 60)
    rgba = np.dstack([np.asarray(photo), np.full((60, 80), 255, np.uint8)])
    assert np.array_equal(np.asarray(pipelines.stylize(rgba, style=model)), np.asarray(from_path))
    # strength 0 is the input; size sets the longer side
    assert np.array_equal(np.asarray(pipelines.stylize(photo, style=model, strength=0.0)),
                          np.asarray(photo))
    assert pipelines.stylize(photo, style=model, size=64).size == (64, 48)


def test_exported_network_stylizes_like_the_saved_one(style_dir, tmp_path, stock_tf):
    model = str(style_dir / "saved")
    exported = str(tmp_path / "exported")
    assert main(["export", "style", "--model", model, "--output", exported]) == 0
    # TF Serving's view: only tensorflow installed, bytes in, PNG bytes out
    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"photo{i}.png"))
        fx.painting(64 - 8 * i, 48, seed=20 + i).save(paths[-1])
    served = fx.serve_in_stock_tensorflow(stock_tf, exported, str(tmp_path), paths)
    assert served["modules"] == [] and served["inputs"] == {"images": ["string", [None]]}
    assert served["signatures"] == ["serving_default", "stylize_pixels"]
    for path, out in zip(paths, served["outputs"]):
        expected = np.asarray(pipelines.stylize(path, style=model), np.int16)
        assert np.abs(np.asarray(Image.open(out), np.int16) - expected).max() <= 1
    photo = fx.painting(64, 48, seed=4)
    a = np.asarray(pipelines.stylize(fx.png_bytes(photo), style=model), np.int16)
    b = np.asarray(pipelines.stylize(fx.png_bytes(photo), style=exported), np.int16)
    assert np.abs(a - b).max() <= 1
    c = np.asarray(pipelines.stylize(photo, style=exported, strength=0.5), np.int16)
    d = np.asarray(pipelines.stylize(photo, style=model, strength=0.5), np.int16)
    assert np.abs(c - d).max() <= 1


@pytest.mark.parametrize("kind", ["missing", "empty", "truncated", "not_an_image", "huge",
                                  "float_array", "bad_shape", "tiny"])
def test_bad_images_give_clear_errors(kind, style_dir, tmp_path):
    model = str(style_dir / "saved")
    data = fx.png_bytes(fx.painting(64, 48))
    cases = {
        "missing": (str(tmp_path / "nope.png"), ValueError, "does not exist"),
        "empty": (b"", ValueError, "empty"),
        "truncated": (data[:len(data) // 2], ValueError, "truncated or corrupt"),
        "not_an_image": (b"hello, I am text" * 10, ValueError, "not an image"),
        "huge": (_huge_png(20000, 20000), ValueError, "above the limit"),
        "float_array": (np.zeros((40, 40, 3), np.float32), TypeError, "uint8"),
        "bad_shape": (np.zeros((40, 40, 5), np.uint8), ValueError, "shape"),
        "tiny": (np.zeros((20, 40, 3), np.uint8), ValueError, "at least 32 pixels"),
    }
    value, error, message = cases[kind]
    with pytest.raises(error, match=message):
        pipelines.stylize(value, style=model)


def test_bad_options_give_clear_errors(style_dir):
    photo = fx.painting(64, 48)
    with pytest.raises(ValueError, match="not a bundled style.*great_wave"):
        pipelines.stylize(photo, style="starry_night_please")
    for strength in (-0.1, 1.5, float("nan"), "1", True):
        with pytest.raises(ValueError, match="strength"):
            pipelines.stylize(photo, style=str(style_dir / "saved"), strength=strength)
    with pytest.raises(ValueError, match="method"):
        pipelines.stylize(photo, method="magic")
    with pytest.raises(ValueError, match="needs style="):
        pipelines.stylize(photo, method="optimize")
    with pytest.raises(ValueError, match="size"):
        pipelines.stylize(photo, style=str(style_dir / "saved"), size=0)


def test_optimize_method_stylizes_any_image(style_dir):
    photo = fx.painting(48, 40, seed=2)
    style = Image.open(style_dir / "painting.png")
    out = pipelines.stylize(photo, style=style, method="optimize", steps=3)
    assert out.size == (48, 40)
    assert not np.array_equal(np.asarray(out), np.asarray(photo))


def test_cli_stylize_train_evaluate(style_dir, tmp_path, capsys, monkeypatch):
    model = str(style_dir / "saved")
    inputs = []
    for i in range(2):
        path = str(tmp_path / f"in{i}.png")
        fx.painting(64, 48, seed=i).save(path)
        inputs.append(path)
    assert main(["stylize", inputs[0], "--style", model, "-o", str(tmp_path / "one.png")]) == 0
    assert Image.open(tmp_path / "one.png").size == (64, 48)
    assert main(["stylize", *inputs, "--style", model, "-o", str(tmp_path / "out"), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [os.path.basename(r["output"]) for r in lines] == ["in0.png", "in1.png"]
    assert main(["train", "style", "--style-image", str(style_dir / "painting.png"),
                 "--data", str(style_dir / "data"), "--output", str(tmp_path / "trained"),
                 "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2",
                 "--image-size", "32", "--style-size", "48"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["saved"] == str(tmp_path / "trained")
    # the distillation flags reach the recipe (which test_style_slim trains for real)
    calls = []

    def recorded_train(*args, **kwargs):
        calls.append((args, kwargs))
        return types.SimpleNamespace(training_seconds=0.0)

    monkeypatch.setattr("tasks.style_transfer.recipe.train", recorded_train)
    small = ["--style-image", str(style_dir / "painting.png"), "--data", str(style_dir / "data"),
             "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--image-size", "32",
             "--style-size", "48", "--teacher", str(tmp_path / "trained")]
    assert main(["train", "style", *small, "--preset", "slim", "--distill-weights", "1", "0.5",
                 "--output", str(tmp_path / "slim")]) == 0
    assert main(["train", "style", *small, "--continue-from", str(tmp_path / "trained"),
                 "--output", str(tmp_path / "slim2")]) == 0
    capsys.readouterr()
    (first, slim), (_, continued) = calls
    assert first[3] == "slim" and slim["task"] is None
    assert slim["teacher"] == str(tmp_path / "trained") and list(slim["distill_weights"]) == [1.0, 0.5]
    assert list(continued["distill_weights"]) == [1.0, 1.0]
    assert continued["task"].config["style_size"] == 48  # the saved network, loaded
    assert main(["train", "style", *small, "--arbitrary", "--output", str(tmp_path / "x")]) == 2
    assert "--teacher" in capsys.readouterr().err
    assert main(["evaluate", "style", "--model", model, "--data", str(style_dir / "data"),
                 "--size", "48", "--limit", "1", "--steps", "3"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["images"] == 1 and result["fast_loss"] > 0 and result["optimized_loss"] > 0
    assert result["loss_ratio"] == pytest.approx(result["fast_loss"] / result["optimized_loss"])


def test_a_loaded_network_is_a_style_too(style_dir):
    from tasks.core.task import Task

    model = str(style_dir / "saved")
    photo = fx.painting(48, 40, seed=5)
    loaded = Task.load(model)
    assert np.array_equal(np.asarray(pipelines.stylize(photo, style=loaded)),
                          np.asarray(pipelines.stylize(photo, style=model)))


def test_eight_threads_give_the_sequential_results_and_load_once(style_dir, monkeypatch):
    model = str(style_dir / "saved")
    jobs = [(fx.painting(40 + 8 * i, 48, seed=20 + i), 0.5 + 0.05 * i) for i in range(8)]
    threaded, sequential, loads = in_threads_then_in_turn(
        monkeypatch, lambda job: np.asarray(pipelines.stylize(job[0], style=model, strength=job[1])),
        jobs)
    assert all(np.array_equal(a, b) for a, b in zip(threaded, sequential)) and loads == 1
