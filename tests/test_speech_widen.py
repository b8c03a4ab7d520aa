"""Widening a trained BiGRU speech network (Net2WiderNet) keeps what it computes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from speech_fixtures import tiny_speech_task
from tasks.core.audio import pad_batch
from tasks.core.task import Task
from tasks.speech.data import load_audio
from tasks.speech.widen import unit_map, widen_bigru


def _inputs(task, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(2, 120, task.config["n_mels"])).astype("float32")
    return {"features": features, "frames": np.array([120, 77], "int32")}


def _layer_output(task, name, inputs):
    return keras.Model(task.model.inputs, task.model.get_layer(name).output)(inputs).numpy()


def test_unit_map_keeps_every_unit_and_spreads_the_copies():
    source = unit_map(4, 11, np.random.default_rng(0))
    assert source[:4].tolist() == [0, 1, 2, 3]
    assert np.bincount(source).tolist() in ([3, 3, 3, 2], [3, 3, 2, 3], [3, 2, 3, 3], [2, 3, 3, 3])
    assert unit_map(5, 5, np.random.default_rng(0)).tolist() == [0, 1, 2, 3, 4]


def test_doubling_every_unit_gives_the_same_logits():
    """Each unit copied once: the layer norms see each feature twice, so their statistics,
    and with them the whole network's output, are unchanged."""
    task = tiny_speech_task(options={"units": 16, "num_layers": 2, "projection": 12, "dropout": 0.0})
    wide = widen_bigru(task, 32, projection=24)
    assert wide.config["options"] == {"units": 32, "num_layers": 2, "projection": 24, "dropout": 0.0}
    inputs = _inputs(task)
    np.testing.assert_allclose(wide.model(inputs).numpy(), task.model(inputs).numpy(), atol=2e-4)


def test_copied_units_repeat_their_sources_exactly_before_the_layer_norm():
    task = tiny_speech_task(options={"units": 16, "num_layers": 2, "projection": 12, "dropout": 0.0})
    wide = widen_bigru(task, 22, seed=3)
    inputs = _inputs(task, 1)
    rng = np.random.default_rng(3)  # the maps widen_bigru draws: the projection's, then rnn0's
    projection_source = unit_map(12, 22, rng)
    np.testing.assert_allclose(_layer_output(wide, "project", inputs),
                               _layer_output(task, "project", inputs)[..., projection_source],
                               atol=1e-5)
    source = unit_map(16, 22, rng)
    old, new = _layer_output(task, "rnn0", inputs), _layer_output(wide, "rnn0", inputs)
    np.testing.assert_allclose(new, np.concatenate([old[..., source], old[..., 16 + source]], -1),
                               atol=1e-5)


def test_widened_overfit_model_transcribes_the_same(overfit_speech_task, speech_examples, tmp_path):
    audio, lengths = pad_batch([load_audio(e["audio"]) for e in speech_examples])
    wide = widen_bigru(overfit_speech_task, 128, noise=0.0)
    assert wide.model.count_params() > 2 * overfit_speech_task.model.count_params()
    expected = overfit_speech_task.transcribe(audio, lengths)
    assert wide.transcribe(audio, lengths) == expected
    loaded = Task.load(wide.save(str(tmp_path / "wide")))
    assert loaded.config["options"]["units"] == 128
    assert loaded.transcribe(audio, lengths) == expected


def test_noise_moves_only_the_new_units_incoming_weights():
    task = tiny_speech_task(options={"units": 16, "num_layers": 1, "projection": 12, "dropout": 0.0})
    quiet, noisy = widen_bigru(task, 24, noise=0.0, seed=5), widen_bigru(task, 24, noise=0.1, seed=5)
    kernel_quiet = quiet.model.get_layer("rnn0").forward_layer.get_weights()[0]
    kernel_noisy = noisy.model.get_layer("rnn0").forward_layer.get_weights()[0]
    for gate in range(3):  # update, reset and candidate blocks of 24 columns each
        block = slice(24 * gate, 24 * gate + 16)
        np.testing.assert_array_equal(kernel_noisy[:, block], kernel_quiet[:, block])
        new = slice(24 * gate + 16, 24 * (gate + 1))
        assert np.abs(kernel_noisy[:, new] - kernel_quiet[:, new]).max() > 0
    assert tf.reduce_all(tf.equal(widen_bigru(task, 24, noise=0.1, seed=5).model.get_weights()[-2],
                                  noisy.model.get_weights()[-2]))  # the seed fixes the draw


@pytest.mark.parametrize("kwargs, message", [
    ({"units": 8}, "units=8; expected an int at least the network's 16"),
    ({"units": 24, "projection": 4}, "projection=4; expected an int at least the network's 12"),
    ({"units": 24.0}, "units=24.0; expected an int"),
    ({"units": 24, "noise": -1.0}, "noise=-1.0"),
])
def test_bad_widths_are_refused(kwargs, message):
    task = tiny_speech_task(options={"units": 16, "num_layers": 1, "projection": 12, "dropout": 0.0})
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        widen_bigru(task, **kwargs)


def test_only_bigru_networks_widen():
    task = tiny_speech_task(architecture="conformer", options={"dim": 16, "num_layers": 1, "heads": 2})
    with pytest.raises(ValueError, match="expected a 'bigru' speech network"):
        widen_bigru(task, 32)
