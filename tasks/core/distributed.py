"""Multi-worker training: one small distributed step for many workers.

Keras 3 ``fit`` fails under ``MultiWorkerMirroredStrategy`` ("Attempt to convert a
value (PerReplica...)", keras-team/keras#20585), while a ``tf.function`` step that
calls ``strategy.run`` with the same Keras model, loss and AdamW trains correctly.
So a single worker (or ``MirroredStrategy`` on one machine) uses ``Task.fit``; many
workers use :func:`distributed_fit`, which shares the model, loss, optimizer,
checkpoints and TensorBoard logs with it. Only the chief keeps checkpoints and
logs: the other workers also save (saving may run collectives that need every
worker) but into a temporary directory that they delete at once.

Example (on every worker, with TF_CONFIG set):
    >>> task = CaptioningTask(config, strategy="multi_worker")
    >>> distributed_fit(task, lambda: make_dataset(...), steps=2000, checkpoint_dir="ckpt")
"""

import os
import shutil
import tempfile

import keras
import tensorflow as tf

from tasks.core import training


def _worker_dir(directory, strategy):
    if training.is_chief(strategy):
        return directory
    resolver = strategy.cluster_resolver
    return os.path.join(tempfile.gettempdir(), f"worker_ckpt_{resolver.task_type}_{resolver.task_id}_{os.getpid()}")


def distributed_fit(task, dataset_fn, steps, checkpoint_dir=None, checkpoint_every=100,
                    log_dir=None, log_every=10, learning_rate=1e-3, progress=True):
    """Train ``task`` for ``steps`` global steps under ``task.strategy``.

    ``dataset_fn()`` returns the repeated, batched training dataset with the *global*
    batch size; it is sharded across workers by data. Resumes from ``checkpoint_dir``.
    Returns the per-step mean losses of this run.
    """
    strategy = task.strategy
    chief = training.is_chief(strategy)
    if not hasattr(task, "optimizer"):
        task.compile(learning_rate=learning_rate, total_steps=steps, jit_compile=False)
    model, optimizer = task.model, task.optimizer
    with strategy.scope():
        loss_fn = task.loss()
        loss_fn.reduction = None
        optimizer.build(model.trainable_variables)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = strategy.experimental_distribute_dataset(dataset_fn().with_options(options))

    def replica_step(features, labels):
        with tf.GradientTape() as tape:
            logits = model(features, training=True)
            per_token = loss_fn(labels, logits)
            weights = tf.cast(labels != 0, per_token.dtype)
            local = tf.reduce_sum(per_token * weights)
            ctx = tf.distribute.get_replica_context()
            count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(weights))
            loss = local / tf.maximum(count, 1.0)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function
    def train_step(iterator):
        features, labels = next(iterator)
        per_replica = strategy.run(replica_step, args=(features, labels))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    manager = None
    if checkpoint_dir:
        checkpoint = training.checkpoint_of(model, optimizer)
        latest = tf.train.latest_checkpoint(checkpoint_dir) if tf.io.gfile.exists(checkpoint_dir) else None
        if latest:
            checkpoint.restore(latest).assert_existing_objects_matched()
        write_dir = _worker_dir(checkpoint_dir, strategy)
        manager = tf.train.CheckpointManager(checkpoint, write_dir, max_to_keep=2)

    def save():
        if manager is None:
            return
        step = int(optimizer.iterations.numpy())
        manager.save(checkpoint_number=step)
        if chief:
            training.write_progress(checkpoint_dir, step)
        else:
            shutil.rmtree(manager.directory, ignore_errors=True)

    writer = tf.summary.create_file_writer(log_dir) if (log_dir and chief) else None
    bar = keras.utils.Progbar(steps, verbose=1 if (progress and chief) else 0)
    iterator = iter(dataset)
    losses = []
    start = int(optimizer.iterations.numpy())
    for _ in range(start, steps):
        loss = float(train_step(iterator))
        losses.append(loss)
        step = int(optimizer.iterations.numpy())
        bar.update(step, [("loss", loss)])
        if writer is not None and step % log_every == 0:
            with writer.as_default():
                tf.summary.scalar("loss", loss, step=step)
        if checkpoint_every and step % checkpoint_every == 0:
            save()
    if losses:
        save()
    return losses
