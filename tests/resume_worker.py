"""Subprocess used by test_training: train a tiny captioner, optionally SIGKILL itself.

    python resume_worker.py SCENES CKPT_DIR OUT.npz [KILL_AT_STEP]
"""

import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from conftest import tiny_task  # noqa: E402
from tasks.captioning.data import make_dataset, read_coco_captions  # noqa: E402


class KillAt(keras.callbacks.Callback):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.step:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, like a real crash


def main(scenes, ckpt_dir, out, kill_at=None):
    examples = read_coco_captions(scenes, "train")
    task = tiny_task(examples)
    ds = make_dataset(examples, task.preprocessor, 16, training=True, seed=11, repeat=True)
    task.compile(learning_rate=3e-3, total_steps=18, jit_compile=False)
    callbacks = [KillAt(int(kill_at))] if kill_at else []
    task.fit(ds, epochs=3, steps_per_epoch=6, checkpoint_dir=ckpt_dir, checkpoint_every=4,
             callbacks=callbacks, verbose=0)
    np.savez(out, iterations=int(task.optimizer.iterations.numpy()),
             **{f"w{i}": w.numpy() for i, w in enumerate(task.model.weights)})


if __name__ == "__main__":
    main(*sys.argv[1:])
