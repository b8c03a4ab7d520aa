"""pipelines.caption: accepted inputs, list semantics, model kinds, and bad inputs."""

import io

import numpy as np
import pytest
from PIL import Image

import pipelines
from concurrency import in_threads_then_in_turn
from pipelines import inputs


@pytest.fixture(scope="module")
def scene(test_examples):
    path = test_examples[0]["image"]
    return path, np.asarray(Image.open(path).convert("RGB"))


def test_path_bytes_array_pil_agree(saved_task_dir, scene):
    path, pixels = scene
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, "PNG")
    outs = [pipelines.caption(x, model=saved_task_dir) for x in
            (pixels, png.getvalue(), Image.fromarray(pixels))]
    assert len(set(outs)) == 1 and isinstance(outs[0], str)
    # the JPEG file decodes to the same pixels as its array only up to decoder rounding
    assert isinstance(pipelines.caption(path, model=saved_task_dir), str)


def test_list_in_list_out_as_one_batch(saved_task_dir, test_examples):
    paths = [e["image"] for e in test_examples[:3]]
    batch = pipelines.caption(paths, model=saved_task_dir)
    assert isinstance(batch, list) and len(batch) == 3
    assert batch == [pipelines.caption(p, model=saved_task_dir) for p in paths]
    assert pipelines.caption(tuple(paths[:1]), model=saved_task_dir) == batch[:1]


def test_arrays_reach_the_graph_as_pixels_in_order(saved_task_dir, test_examples, monkeypatch):
    """Mixed inputs are batched by kind (bytes; arrays of one shape): results keep the
    input order and equal one-by-one calls; arrays are never re-encoded."""
    images = [np.asarray(Image.open(e["image"]).convert("RGB")) for e in test_examples[:3]]
    small = np.asarray(Image.fromarray(images[2]).resize((40, 30)))
    with open(test_examples[3]["image"], "rb") as f:
        jpeg = f.read()
    mixed = [images[0], jpeg, small, images[1], Image.fromarray(images[2])]
    one_by_one = [pipelines.caption(x, model=saved_task_dir) for x in mixed]

    def no_png(*args, **kwargs):
        raise AssertionError("an array was re-encoded to PNG")

    monkeypatch.setattr(inputs, "_encode_png", no_png)
    assert pipelines.caption(mixed, model=saved_task_dir) == one_by_one


def test_grayscale_and_rgba_are_accepted(saved_task_dir, scene):
    _, pixels = scene
    gray = pixels.mean(-1).astype(np.uint8)
    rgba = np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], -1)
    assert pipelines.caption(rgba, model=saved_task_dir) == pipelines.caption(pixels, model=saved_task_dir)
    assert isinstance(pipelines.caption(gray, model=saved_task_dir), str)
    assert isinstance(pipelines.caption(gray[..., None], model=saved_task_dir), str)


def test_exported_model_directory_gives_the_same_captions(saved_task_dir, exported_dir, test_examples):
    paths = [e["image"] for e in test_examples[:3]]
    assert pipelines.caption(paths, model=exported_dir) == pipelines.caption(paths, model=saved_task_dir)
    with pytest.raises(ValueError, match="fixed inside an exported SavedModel"):
        pipelines.caption(paths, model=exported_dir, beam_width=1)


def test_beam_width_and_max_length_are_honoured(saved_task_dir, scene):
    _, pixels = scene
    one = pipelines.caption(pixels, model=saved_task_dir, max_length=1)
    assert len(one.split()) <= 1
    assert isinstance(pipelines.caption(pixels, model=saved_task_dir, beam_width=1), str)


def test_eight_threads_give_the_sequential_results_and_load_once(saved_task_dir, test_examples,
                                                                 monkeypatch):
    images = [e["image"] for e in test_examples[:8]]
    threaded, sequential, loads = in_threads_then_in_turn(
        monkeypatch, lambda image: pipelines.caption(image, model=saved_task_dir), images)
    assert threaded == sequential and loads == 1


# -- bad inputs: one test per kind -------------------------------------------------------

def test_missing_file(tmp_path, saved_task_dir):
    with pytest.raises(ValueError, match="does not exist"):
        pipelines.caption(str(tmp_path / "nope.jpg"), model=saved_task_dir)


def test_zero_byte_file(tmp_path, saved_task_dir):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        pipelines.caption(str(empty), model=saved_task_dir)


def test_truncated_image(scene, saved_task_dir):
    path, _ = scene
    data = open(path, "rb").read()
    with pytest.raises(ValueError, match="truncated or corrupt"):
        pipelines.caption(data[: len(data) // 2], model=saved_task_dir)


def test_non_image_file(tmp_path, saved_task_dir):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image\n")
    with pytest.raises(ValueError, match="not an image"):
        pipelines.caption(str(text), model=saved_task_dir)


def test_directory_instead_of_file(tmp_path, saved_task_dir):
    with pytest.raises(ValueError, match="is a directory"):
        pipelines.caption(str(tmp_path), model=saved_task_dir)


def test_unsupported_dtype(saved_task_dir):
    with pytest.raises(TypeError, match="dtype float32"):
        pipelines.caption(np.zeros((8, 8, 3), np.float32), model=saved_task_dir)


def test_unsupported_shape(saved_task_dir):
    with pytest.raises(ValueError, match="shape"):
        pipelines.caption(np.zeros((8, 8, 5), np.uint8), model=saved_task_dir)
    with pytest.raises(ValueError, match="shape"):
        pipelines.caption(np.zeros((2, 8, 8, 3), np.uint8), model=saved_task_dir)


def test_empty_list(saved_task_dir):
    with pytest.raises(ValueError, match="empty list"):
        pipelines.caption([], model=saved_task_dir)


def test_wrong_type(saved_task_dir):
    with pytest.raises(TypeError, match="has type int"):
        pipelines.caption(42, model=saved_task_dir)
    with pytest.raises(TypeError, match=r"image\[1\] has type dict"):
        pipelines.caption([np.zeros((4, 4, 3), np.uint8), {}], model=saved_task_dir)


def test_absurdly_large_image_is_rejected_before_decoding(saved_task_dir, monkeypatch):
    # A 20000x20000 PNG header (400 MP) built without allocating the pixels.
    big = Image.new("1", (20000, 20000))
    buf = io.BytesIO()
    big.save(buf, "PNG")
    with pytest.raises(ValueError, match="above the limit"):
        pipelines.caption(buf.getvalue(), model=saved_task_dir)
    monkeypatch.setattr(inputs, "MAX_PIXELS", 100)
    with pytest.raises(ValueError, match="above the limit"):
        pipelines.caption(np.zeros((20, 20, 3), np.uint8), model=saved_task_dir)


def test_bad_model_argument(tmp_path):
    with pytest.raises(ValueError, match="is not a preset"):
        pipelines.caption(np.zeros((8, 8, 3), np.uint8), model=str(tmp_path))
    with pytest.raises(TypeError, match="model has type"):
        pipelines.caption(np.zeros((8, 8, 3), np.uint8), model=3.5)


def test_bad_beam_and_length_arguments(saved_task_dir):
    x = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="beam_width"):
        pipelines.caption(x, model=saved_task_dir, beam_width=0)
    with pytest.raises(ValueError, match="max_length"):
        pipelines.caption(x, model=saved_task_dir, max_length="10")
