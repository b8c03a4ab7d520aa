"""The bundled fast style network: present, the pipeline's default, and it repaints."""

import os

import numpy as np
from PIL import Image

import pipelines
from tasks.style_transfer.presets import DEFAULT_PRESET, presets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "pipelines", "samples", "scene_0.jpg")


def test_bundled_great_wave_is_installed_and_the_default():
    assert DEFAULT_PRESET == "great_wave"
    path = presets["great_wave"]["path"]
    assert os.path.isfile(os.path.join(path, "task.json")), "the bundled style network is missing"
    assert os.path.getsize(os.path.join(path, "model.keras")) < 15_000_000
    photo = Image.open(SAMPLE).convert("RGB")
    default = pipelines.stylize(photo)
    named = pipelines.stylize(photo, style="great_wave")
    assert np.array_equal(np.asarray(default), np.asarray(named))


def test_bundled_network_repaints_and_is_deterministic():
    photo = Image.open(SAMPLE).convert("RGB").resize((160, 120))
    out = np.asarray(pipelines.stylize(photo, style="great_wave"), np.float32) / 255.0
    again = np.asarray(pipelines.stylize(photo, style="great_wave"), np.float32) / 255.0
    source = np.asarray(photo, np.float32) / 255.0
    assert out.shape == source.shape and np.array_equal(out, again)
    # measured 0.199 on this image: the network changes it a lot
    assert np.abs(out - source).mean() > 0.1
    half = np.asarray(pipelines.stylize(photo, style="great_wave", strength=0.5), np.float32) / 255.0
    np.testing.assert_allclose(half, (out + source) / 2, atol=2.0 / 255)


def test_bundled_network_in_tiles_shows_no_seams():
    from tasks.style_transfer.tiling import run_tiled, seam_score, tile_edges

    task = pipelines.MODELS.get("stylize", "great_wave")
    photo = np.asarray(Image.open(SAMPLE).convert("RGB").resize((640, 480)))
    edges = tile_edges(640, 256, 64)
    whole = task.stylize([photo], tile=1024)[0]
    tiled = task.stylize([photo], tile=256, overlap=64)[0]
    assert tiled.shape == whole.shape == (480, 640, 3)
    run = task._compiled()
    hard = run_tiled(lambda p: run(p[None], 1.0)[0].numpy(), photo / 255.0, 256, 64, blend=False)
    # measured on this sample: cross-faded 0.92, whole image 1.03, hard cuts 3.45
    assert seam_score(tiled, edges, axis=1) < 1.1 * seam_score(whole, edges, axis=1)
    assert seam_score(hard, edges, axis=1) > 1.5 * seam_score(tiled, edges, axis=1)
