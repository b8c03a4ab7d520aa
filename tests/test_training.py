"""Schedules, checkpoints and resume after a hard kill, distribution strategies."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tasks.core.training import (WarmupCosine, average_weights, continued_training,
                                  latest_step, record_training_seconds, resolve_strategy)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _run(*args, check=True):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=600)


def test_a_continued_run_reports_the_whole_training_time_and_the_earlier_scores(tmp_path):
    import json

    assert record_training_seconds(str(tmp_path / "work"), 30.04) == [30.0]
    runs = record_training_seconds(str(tmp_path / "work"), 12.0)
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"train_runs_seconds": [100.0, 50.0], "config": {"epochs": 3},
                                   "test_beam4": {"bleu": 30.0}, "parameters": 7}))
    total, config = continued_training(str(earlier), "weights/x", runs, {"epochs": 8},
                                       keep=lambda key: key.startswith("test_"))
    assert total == [100.0, 50.0, 30.0, 12.0]
    assert config == {"epochs": 8, "continued_from": "weights/x", "earlier": {"epochs": 3},
                      "earlier_results": {"test_beam4": {"bleu": 30.0}}}
    # the same from results already read, whose settings sit under another key
    style = {"train_runs_seconds": [9.0], "training": {"epochs": 2}, "loss_ratio": 2.5}
    total, config = continued_training(style, "weights/y", [1.0], {}, keep=lambda key: key == "loss_ratio",
                                       config_key="training")
    assert total == [9.0, 1.0] and config == {"continued_from": "weights/y", "earlier": {"epochs": 2},
                                              "earlier_results": {"loss_ratio": 2.5}}


def _dense_model(units, seed):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(units)(inputs))


def test_average_weights_is_the_weighted_mean_and_rejects_other_shapes():
    a, b, c = _dense_model(2, 1), _dense_model(2, 2), _dense_model(2, 3)
    wa, wb, wc = a.get_weights(), b.get_weights(), c.get_weights()
    average_weights(a, [b, c], weights=[2, 1, 1])
    for got, x, y, z in zip(a.get_weights(), wa, wb, wc):
        np.testing.assert_allclose(got, (2 * x + y + z) / 4, rtol=1e-6)
    np.testing.assert_array_equal(b.get_weights()[0], wb[0])  # the others are left as they were
    with pytest.raises(ValueError, match="others"):
        average_weights(a, [_dense_model(4, 1)])
    with pytest.raises(ValueError, match="weights"):
        average_weights(a, [b], weights=[1])


def test_warmup_cosine_schedule():
    schedule = WarmupCosine(1.0, total_steps=110, warmup_steps=10, final_ratio=0.1)
    assert float(schedule(0)) == 0.0
    assert float(schedule(5)) == pytest.approx(0.5)
    assert float(schedule(10)) == pytest.approx(1.0)
    assert float(schedule(60)) == pytest.approx(0.55, abs=1e-5)
    assert float(schedule(110)) == pytest.approx(0.1)
    assert float(schedule(500)) == pytest.approx(0.1)
    assert WarmupCosine(**schedule.get_config()).get_config() == schedule.get_config()


def test_resume_after_sigkill_continues_the_same_run(scenes_root, tmp_path):
    from resume_worker import main as uninterrupted

    # the uninterrupted run in this process (one TensorFlow start less); the killed and the
    # resumed runs need processes of their own
    straight = tmp_path / "straight.npz"
    uninterrupted(scenes_root, str(tmp_path / "a"), str(straight))

    ckpt = str(tmp_path / "b")
    killed = _run(os.path.join(HERE, "resume_worker.py"), scenes_root, ckpt, str(tmp_path / "x.npz"),
                  "10")
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert latest_step(ckpt) == 8  # checkpoints every 4 steps; killed at 10
    resumed = tmp_path / "resumed.npz"
    r = _run(os.path.join(HERE, "resume_worker.py"), scenes_root, ckpt, str(resumed))
    assert r.returncode == 0, r.stderr[-3000:]

    a, b = np.load(straight), np.load(resumed)
    assert int(a["iterations"]) == int(b["iterations"]) == 18
    for key in a.files:
        np.testing.assert_allclose(a[key], b[key], atol=2e-5, err_msg=key)
    assert latest_step(ckpt) == 18


def test_strategy_names():
    import tensorflow as tf

    assert resolve_strategy(None) is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="strategy must be"):
        resolve_strategy("tpu-pod")


MIRRORED = r"""
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, "tests")
from conftest import tiny_task
from tasks.captioning.data import make_dataset, read_coco_captions
examples = read_coco_captions(sys.argv[1], "train")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
task = tiny_task(examples, strategy=strategy)
assert task.strategy.num_replicas_in_sync == 2
ds = make_dataset(examples, task.preprocessor, 16, training=True, repeat=True)
task.compile(learning_rate=5e-3, total_steps=30, jit_compile=False)
h = task.fit(ds, epochs=3, steps_per_epoch=10, verbose=0)
loss = h.history["loss"]
print("LOSS", loss)
assert loss[-1] < loss[0], loss
"""


def test_fit_under_mirrored_strategy_on_two_logical_cpus(scenes_root):
    r = _run("-c", MIRRORED, scenes_root)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]


def _free_ports(n):
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_multi_worker_training_with_two_local_processes(scenes_root, tmp_path):
    import json

    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3",
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, os.path.join(HERE, "multiworker_worker.py"), scenes_root, str(tmp_path)],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-4000:]
    w0, w1 = np.load(tmp_path / "worker0.npz"), np.load(tmp_path / "worker1.npz")
    assert bool(w0["chief"]) and not bool(w1["chief"])
    losses = w0["losses"]
    assert len(losses) == 30 and losses[-5:].mean() < losses[:5].mean() * 0.8, losses
    np.testing.assert_allclose(w0["losses"], w1["losses"], rtol=1e-6)
    for key in w0.files:
        if key.startswith("w"):
            np.testing.assert_array_equal(w0[key], w1[key], err_msg=key)
    # only the chief keeps checkpoints, logs and the export
    assert latest_step(str(tmp_path / "ckpt")) == 30
    assert os.path.exists(tmp_path / "export" / "saved_model.pb")
    assert sorted(os.listdir(tmp_path)) == ["ckpt", "export", "logs", "worker0.npz", "worker1.npz"]


def test_mixed_precision_switch_trains_and_decodes(train_examples):
    from conftest import tiny_task
    from tasks.captioning.data import make_dataset

    task = tiny_task(train_examples, dtype_policy="mixed_bfloat16")
    dense = task.model.get_layer("decoder").head
    assert dense.dtype_policy.name == "float32"  # logits stay float32 for a stable softmax
    assert task.model.get_layer("image_encoder").layers[1].dtype_policy.name == "mixed_bfloat16"
    ds = make_dataset(train_examples, task.preprocessor, 16, training=True, repeat=True)
    task.compile(total_steps=4, jit_compile=False)
    history = task.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    images = [open(e["image"], "rb").read() for e in train_examples[:2]]
    assert len(task.caption(images, beam_width=2)) == 2
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the switch does not leak globally


def test_checkpoint_restores_every_model_variable(train_examples, tmp_path):
    """Including layers held in Python lists (the decoder's blocks) and BN statistics."""
    from conftest import tiny_task
    from tasks.captioning.data import make_dataset
    from tasks.core.training import StepCheckpoint, restore_latest

    task = tiny_task(train_examples, decoder_options={"hidden_dim": 32, "num_layers": 2, "num_heads": 2,
                                                       "intermediate_dim": 64})
    ds = make_dataset(train_examples, task.preprocessor, 16, training=True, repeat=True)
    task.compile(total_steps=6, jit_compile=False)
    task.fit(ds, epochs=1, steps_per_epoch=3, checkpoint_dir=str(tmp_path), verbose=0)
    fresh = tiny_task(train_examples, decoder_options={"hidden_dim": 32, "num_layers": 2, "num_heads": 2,
                                                        "intermediate_dim": 64})
    fresh.compile(total_steps=6, jit_compile=False)
    assert restore_latest(fresh.model, fresh.optimizer, str(tmp_path)) == 3
    for a, b in zip(task.model.weights, fresh.model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for a, b in zip(task.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert StepCheckpoint  # the callback that wrote it
