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
    # measured 0.230 on this image: the network changes it a lot
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
    # measured on this sample: cross-faded 0.94, whole image 1.12, hard cuts 3.05
    assert seam_score(tiled, edges, axis=1) < 1.1 * seam_score(whole, edges, axis=1)
    assert seam_score(hard, edges, axis=1) > 1.5 * seam_score(tiled, edges, axis=1)


def _stripes(width=340, height=256):
    """A bold style image: diagonal blue and orange stripes."""
    y, x = np.mgrid[0:height, 0:width]
    band = ((x + y) // 12) % 2
    colours = np.array([[30, 60, 200], [240, 140, 20]], np.uint8)
    return Image.fromarray(colours[band])


def test_bundled_arbitrary_network_follows_the_style_image():
    from tasks.style_transfer import presets as style_presets

    path = style_presets.ARBITRARY_DIR
    assert os.path.isfile(os.path.join(path, "task.json")), "the bundled arbitrary network is missing"
    assert os.path.getsize(os.path.join(path, "model.keras")) < 15_000_000
    photo = Image.open(SAMPLE).convert("RGB").resize((160, 120))
    style = _stripes()
    out = pipelines.stylize(photo, style=style)
    assert np.array_equal(np.asarray(out), np.asarray(pipelines.stylize(photo, style=style)))
    source = np.asarray(photo, np.float32) / 255.0
    changes = [np.abs(np.asarray(pipelines.stylize(photo, style=style, strength=s), np.float32)
                      / 255.0 - source).mean() for s in (0.0, 0.5, 1.0)]
    assert changes[0] < changes[1] < changes[2], changes
    # it follows the painting's palette: the output's mean colour moves towards it
    # (measured: distance 0.55 before, 0.25 after; a different painting changes 31.9 levels)
    style_mean = np.asarray(style, np.float32).mean((0, 1)) / 255.0
    before = np.abs(source.mean((0, 1)) - style_mean).sum()
    after = np.abs(np.asarray(out, np.float32).mean((0, 1)) / 255.0 - style_mean).sum()
    assert after < 0.6 * before, (before, after)
    # and a different painting gives a different picture
    other = pipelines.stylize(photo, style=Image.fromarray(255 - np.asarray(style)))
    assert np.abs(np.asarray(other, np.float32) - np.asarray(out, np.float32)).mean() > 10


def test_every_bundled_style_is_installed_and_paints_its_own_way():
    from tasks.style_transfer.presets import BUNDLED_STYLES

    photo = Image.open(SAMPLE).convert("RGB").resize((128, 96))
    source = np.asarray(photo, np.float32) / 255.0
    outputs = {}
    for name in BUNDLED_STYLES:
        path = presets[name]["path"]
        assert os.path.isfile(os.path.join(path, "task.json")), f"{name} is not bundled"
        assert os.path.getsize(os.path.join(path, "model.keras")) < 15_000_000
        outputs[name] = np.asarray(pipelines.stylize(photo, style=name), np.float32) / 255.0
        # measured on this sample with the specialised AdaIN networks: 0.15-0.24 from the
        # photo, 0.15-0.29 between styles (the Johnson-style ones: 0.16-0.23, 0.21-0.24)
        assert np.abs(outputs[name] - source).mean() > 0.1, name
    names = sorted(outputs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(outputs[a] - outputs[b]).mean() > 0.1, (a, b)


def test_every_slim_network_is_installed_and_paints_like_its_teacher():
    from tasks.style_transfer.presets import BUNDLED_STYLES, SLIM_STYLES

    photo = Image.open(SAMPLE).convert("RGB").resize((128, 96))
    source = np.asarray(photo, np.float32) / 255.0
    teachers = {name: np.asarray(pipelines.stylize(photo, style=name), np.float32) / 255.0
                for name in BUNDLED_STYLES}
    assert SLIM_STYLES and set(SLIM_STYLES) <= set(BUNDLED_STYLES)
    for name in SLIM_STYLES:
        path = presets[f"{name}_slim"]["path"]
        assert os.path.isfile(os.path.join(path, "task.json")), f"{name}_slim is not bundled"
        assert os.path.getsize(os.path.join(path, "model.keras")) < 2_000_000
        out = np.asarray(pipelines.stylize(photo, style=f"{name}_slim"), np.float32) / 255.0
        assert np.abs(out - source).mean() > 0.1, name
        # it learned its own teacher's painting: measured 0.10-0.11 from its own teacher,
        # 0.17-0.28 from the other two (great_wave_slim, composition_viii_slim; cafe_terrace_slim
        # 0.11 against 0.20 and 0.28)
        own = np.abs(out - teachers[name]).mean()
        nearest_other = min(np.abs(out - teachers[o]).mean() for o in teachers if o != name)
        assert own < 0.7 * nearest_other, (name, own, nearest_other)


def _edge_asymmetry(task, photo, style):
    """Mean |out - mirrored(out of the mirrored photo)| over the last 4 columns, over the
    interior's: a network that treats both sides alike scores under 1; a band of colour
    along one edge (zeros padded on the bottom/right inside the encoder) scores above."""
    out = task.stylize([photo], *style)[0]
    mirrored = task.stylize([photo[:, ::-1].copy()], *style)[0][:, ::-1]
    columns = np.abs(out - mirrored).mean(axis=(0, 2))
    return float(columns[-4:].mean() / columns[8:-8].mean())


def test_bundled_arbitrary_network_paints_no_band_along_an_edge():
    from tasks.core.task import Task
    from tasks.style_transfer import presets as style_presets
    from tests import style_fixtures as fx

    photo = np.asarray(Image.open(SAMPLE).convert("RGB").resize((256, 256)))
    style = np.asarray(fx.painting(200, 160, seed=1))
    bundled = Task.load(style_presets.ARBITRARY_DIR)
    assert bundled.config["border"] == 32
    # measured: 0.29 with the 32-pixel border; 1.73 with the 16 it was trained with,
    # which left a band of colour down the right and along the bottom
    assert _edge_asymmetry(bundled, photo, [style]) < 0.8
    narrow = Task.load(style_presets.ARBITRARY_DIR, border=16)
    assert _edge_asymmetry(narrow, photo, [style]) > 1.2


def test_slim_networks_paint_no_frame_along_the_edges():
    from tasks.style_transfer.presets import SLIM_STYLES

    photo = np.asarray(Image.open(SAMPLE).convert("RGB").resize((256, 256)))
    for name in SLIM_STYLES:
        task = pipelines.MODELS.get("stylize", f"{name}_slim")
        # measured: great_wave_slim 0.57, composition_viii_slim 0.31, cafe_terrace_slim 0.45
        # (the teachers 0.47-0.51); a slim network whose convolutions padded with zeros scored
        # 6.2 (a striped frame)
        assert _edge_asymmetry(task, photo, []) < 1.0, name
