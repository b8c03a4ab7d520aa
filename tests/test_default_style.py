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
