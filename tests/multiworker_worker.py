"""One worker of the two-process MultiWorkerMirroredStrategy test.

    python multiworker_worker.py SCENES WORKDIR  (TF_CONFIG set by the test)
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from conftest import tiny_task  # noqa: E402
from tasks.captioning.data import make_dataset, read_coco_captions  # noqa: E402
from tasks.core.distributed import distributed_fit  # noqa: E402
from tasks.core.training import is_chief  # noqa: E402


def main(scenes, workdir):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    examples = read_coco_captions(scenes, "train")
    task = tiny_task(examples, strategy=strategy)
    losses = distributed_fit(
        task, lambda: make_dataset(examples, task.preprocessor, 32, training=True, seed=5, repeat=True),
        steps=30, checkpoint_dir=os.path.join(workdir, "ckpt"), checkpoint_every=10,
        log_dir=os.path.join(workdir, "logs"), learning_rate=5e-3, progress=False)
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    chief = is_chief(strategy)
    if chief:
        task.export(os.path.join(workdir, "export"))
    np.savez(os.path.join(workdir, f"worker{index}.npz"), losses=np.array(losses), chief=chief,
             **{f"w{i}": w.numpy() for i, w in enumerate(task.model.weights)})


if __name__ == "__main__":
    main(*sys.argv[1:])
