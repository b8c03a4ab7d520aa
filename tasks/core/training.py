"""Training utilities shared by every task.

AdamW with linear warm-up + cosine decay, step checkpoints written atomically with
``tf.train.CheckpointManager`` (shards go to a temporary name and are renamed; the
index file is replaced atomically), resume from the latest checkpoint, the
standard callbacks (TensorBoard, EarlyStopping, progress bar), the training time of runs
joined by resume, and the mean of several models' weights.

Example:
    >>> optimizer = make_optimizer(1e-3, total_steps=10_000, warmup_steps=500)
    >>> callbacks = [StepCheckpoint(model, optimizer, "ckpt", every_steps=200)]
"""

import json
import math
import os

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tasks")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to ``peak`` over ``warmup_steps``, then cosine decay to ``peak * final_ratio``."""

    def __init__(self, peak, total_steps, warmup_steps=0, final_ratio=0.05):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.final_ratio = float(final_ratio)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * step / max(1, self.warmup_steps)
        progress = tf.clip_by_value(
            (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps), 0.0, 1.0
        )
        cosine = self.final_ratio + (1 - self.final_ratio) * 0.5 * (1 + tf.cos(math.pi * progress))
        return tf.where(step < self.warmup_steps, warm, self.peak * cosine)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "final_ratio": self.final_ratio}


def make_optimizer(learning_rate=1e-3, total_steps=10_000, warmup_steps=None, weight_decay=0.01,
                   clipnorm=1.0):
    """AdamW on a warm-up/cosine schedule (warm-up defaults to 5% of the steps)."""
    if warmup_steps is None:
        warmup_steps = max(1, total_steps // 20)
    schedule = WarmupCosine(learning_rate, total_steps, warmup_steps)
    return keras.optimizers.AdamW(schedule, weight_decay=weight_decay, clipnorm=clipnorm)


def checkpoint_of(model, optimizer):
    """Checkpoint of every model and optimizer variable, matched by position.

    Explicit variable lists, not the object graph: TF's graph walk does not see layers
    that Keras 3 holds in Python lists (e.g. a decoder's blocks), and would silently
    skip their variables on a model-only restore.
    """
    if not optimizer.built:  # slots must exist before the variable list is taken
        optimizer.build(model.trainable_variables)
    return tf.train.Checkpoint(model_weights=list(model.weights),
                               optimizer_variables=list(optimizer.variables))


def latest_step(directory):
    """Global step of the newest checkpoint in ``directory`` (0 if none)."""
    path = os.path.join(directory, "progress.json")
    if not tf.io.gfile.exists(path):
        return 0
    with tf.io.gfile.GFile(path) as f:
        return int(json.load(f)["step"])


def restore_latest(model, optimizer, directory):
    """Restore model and optimizer from the newest checkpoint; returns its global step."""
    latest = tf.train.latest_checkpoint(directory) if tf.io.gfile.exists(directory) else None
    if latest is None:
        return 0
    checkpoint_of(model, optimizer).restore(latest).assert_existing_objects_matched()
    return int(optimizer.iterations.numpy())


def write_progress(directory, step):
    """Atomically record the global step a checkpoint belongs to."""
    tmp = os.path.join(directory, "progress.json.tmp")
    with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump({"step": int(step)}, f)
    tf.io.gfile.rename(tmp, os.path.join(directory, "progress.json"), overwrite=True)


class StepCheckpoint(keras.callbacks.Callback):
    """Save model + optimizer every ``every_steps`` steps and at each epoch end.

    Only the chief writes (``is_chief``), so the same callback serves multi-worker runs.
    """

    def __init__(self, model, optimizer, directory, every_steps=500, max_to_keep=2, is_chief=True):
        super().__init__()
        self.directory = directory
        self.every_steps = int(every_steps)
        self.is_chief = is_chief
        self._manager = tf.train.CheckpointManager(
            checkpoint_of(model, optimizer), directory, max_to_keep=max_to_keep
        )
        self._optimizer = optimizer

    def save(self):
        if not self.is_chief:
            return
        step = int(self._optimizer.iterations.numpy())
        self._manager.save(checkpoint_number=step)
        write_progress(self.directory, step)

    def on_train_batch_end(self, batch, logs=None):
        if self.every_steps and int(self._optimizer.iterations.numpy()) % self.every_steps == 0:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        self.save()


class StopAtStep(keras.callbacks.Callback):
    """Stop training once the optimizer has taken ``total_steps`` steps."""

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = int(total_steps)

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.total_steps:
            self.model.stop_training = True


def standard_callbacks(log_dir=None, early_stopping_patience=None, monitor="val_loss"):
    """TensorBoard and EarlyStopping, each only when asked for."""
    callbacks = []
    if log_dir:
        callbacks.append(keras.callbacks.TensorBoard(log_dir, update_freq=50))
    if early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, patience=early_stopping_patience, restore_best_weights=True))
    return callbacks


def resolve_strategy(strategy):
    """None -> default strategy; 'mirrored' / 'multi_worker' names; or a Strategy instance."""
    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    if strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    if strategy == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(
        f"strategy must be None, 'mirrored', 'multi_worker' or a tf.distribute.Strategy, got {strategy!r}"
    )


def is_chief(strategy):
    """True on the worker that writes checkpoints, logs and exports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type in ("chief", None) or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


def record_training_seconds(work_dir, seconds=None):
    """Append one run's wall time to ``work_dir/train_seconds.json``; return all runs.

    A default model trained over several resumed runs reports their sum. With
    ``seconds=None`` only reads.

    Example:
        >>> runs = record_training_seconds("runs/default_translation", task.training_seconds)
        >>> sum(runs)
    """
    path = os.path.join(work_dir, "train_seconds.json")
    runs = []
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            runs = json.load(f)
    if seconds is not None:
        runs.append(round(float(seconds), 1))
        tf.io.gfile.makedirs(work_dir)
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump(runs, f)
    return runs


def continued_training(earlier_results, continued_from, runs, config, keep, config_key="config"):
    """A continued run's ``(runs, config)`` for its results file: the earlier training's
    run times first (so the total covers the whole model), and the earlier config (its
    ``config_key`` entry) and scores (the result keys for which ``keep(key)`` is true) under
    ``config``. ``earlier_results`` is a results file, or the earlier results themselves.

    Example:
        >>> runs, config = continued_training("benchmarks/results/translation_default.json",
        ...     "tasks/translation/weights/debian_en_fr_transformer", [4321.0], {"epochs": 8},
        ...     keep=lambda key: key.startswith("test_"))
    """
    earlier = earlier_results
    if not isinstance(earlier, dict):
        with open(earlier_results) as f:
            earlier = json.load(f)
    return earlier["train_runs_seconds"] + list(runs), {
        **config, "continued_from": continued_from, "earlier": earlier.get(config_key),
        "earlier_results": {k: v for k, v in earlier.items() if keep(k)}}


def average_weights(model, others, weights=None):
    """Set ``model``'s weights to the (weighted) mean of its own and ``others``' weights.

    ``others``: models of the same architecture, typically earlier checkpoints of the same
    line of training (a continued run and the model it continued from): their mean often
    keeps what each learned better than either alone. ``weights``: one number per model,
    ``model`` first (default: equal). Returns ``model``.

    Example:
        >>> average_weights(task.model, [Task.load("tasks/speech/weights/speech_en_bigru").model])
    """
    models = [model] + list(others)
    weights = [1.0] * len(models) if weights is None else [float(w) for w in weights]
    if len(weights) != len(models) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError(f"weights: expected {len(models)} non-negative numbers, not all zero; "
                         f"got {weights}")
    values = [m.get_weights() for m in models]
    for other, v in zip(models[1:], values[1:]):
        shapes = [w.shape for w in v]
        if shapes != [w.shape for w in values[0]]:
            raise ValueError(f"others: {other.name!r} has weights of shapes {shapes}, "
                             f"expected {[w.shape for w in values[0]]} (the same architecture)")
    total = sum(weights)
    model.set_weights([sum(w * v[i] for w, v in zip(weights, values)) / total
                       for i in range(len(values[0]))])
    return model
