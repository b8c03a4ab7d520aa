"""The style-transfer training recipe, shared by the CLI, the notebook and the default-model script.

Example:
    >>> task = train("data/style", "runs/my_style", style_image="my_painting.jpg", epochs=2,
    ...              steps_per_epoch=500)
"""

import os

import keras

from tasks.style_transfer.data import make_dataset, train_images
from tasks.style_transfer.task import StyleTransferTask


def _continue(task, task_class, overrides, run):
    """Prepare a trained ``task`` to train further: this run's settings (``run``: painting,
    crop sizes) replace its own; its network and loss settings stay, so architecture
    ``overrides`` are refused."""
    if overrides:
        raise ValueError(f"{sorted(overrides)} set a new network's architecture; a continued "
                         "task keeps its own, so pass them without task=")
    if not isinstance(task, task_class):
        raise TypeError(f"task must be a {task_class.__name__} to train further, got "
                        f"{type(task).__name__}")
    task.config.update(run)


def train(data_dir, output, style_image, preset="fast_small", epochs=3, steps_per_epoch=500,
          batch_size=8, learning_rate=2e-3, checkpoint_dir=None, image_size=128, style_size=256,
          style_name=None, seed=0, jit_compile="auto", verbose="auto", checkpoint_every=250,
          content_images=None, task=None, arbitrary=None, teacher=None, distill_weights=(1.0, 1.0),
          **overrides):
    """Train (or resume) a fast network for one style image and save it to ``output``.

    Content photographs come from ``data_dir`` (the built-in data's ``content/train``) or
    ``content_images`` (a list of paths). Crops of ``image_size`` keep CPU training
    affordable; the network then runs on images of any size. ``task``: a trained
    :class:`StyleTransferTask` to train further (its architecture and loss settings, a fresh
    schedule) instead of a new network from ``preset``. A new ``architecture="adain"``
    network (preset ``fast_adain``) starts from the arbitrary-style network at ``arbitrary``
    (a saved :class:`ArbitraryStyleTask`; default the bundled one) with the painting built in.
    ``teacher``: a saved fast network of the same style to distil (preset ``slim``): the
    loss is ``distill_weights[0]`` x the L1 distance to its output + ``distill_weights[1]`` x
    the perceptual loss; a new slim network starts from its recolouring.

    Example:
        >>> train("data/style", "runs/wave", "data/style/styles/great_wave.jpg", epochs=1)
        >>> train("data/style", "runs/wave2", "data/style/styles/great_wave.jpg",
        ...       task=Task.load("runs/wave"), seed=1)   # a continuation
        >>> train("data/style", "runs/slim_wave", "data/style/styles/great_wave.jpg",
        ...       preset="slim", teacher="runs/wave", distill_weights=(1.0, 0.0))
    """
    if not os.path.isfile(style_image):
        raise ValueError(f"style_image={style_image!r} does not exist")
    if preset not in StyleTransferTask.presets or "config" not in StyleTransferTask.presets[preset]:
        raise ValueError(f"preset={preset!r} is not an architecture preset; choose from "
                         f"{sorted(k for k, v in StyleTransferTask.presets.items() if 'config' in v)}")
    keras.utils.set_random_seed(seed)
    paths = list(content_images) if content_images else train_images(data_dir)
    name = style_name or os.path.splitext(os.path.basename(style_image))[0]
    if teacher is not None and not os.path.isfile(os.path.join(teacher, "task.json")):
        raise ValueError(f"teacher={teacher!r} is not a saved task (no task.json)")
    run = dict(style_name=name, style_image=os.path.abspath(style_image), image_size=image_size,
               style_size=style_size, teacher=teacher and os.path.abspath(teacher),
               distill_weights=[float(w) for w in distill_weights])
    if task is None:
        task = StyleTransferTask({**StyleTransferTask.presets[preset]["config"], **overrides}, **run)
        if task.config["architecture"] == "adain":
            from tasks.core.task import Task
            from tasks.style_transfer.presets import ARBITRARY_DIR

            task.start_from_arbitrary(Task.load(arbitrary or ARBITRARY_DIR))
        elif task.config["architecture"] == "slim":
            task.start_recolour()
    else:
        _continue(task, StyleTransferTask, overrides, run)
    ds = make_dataset(paths, image_size, batch_size, seed=seed,
                      cache_side=max(image_size, min(512, 3 * image_size)))
    task.train_and_save(ds, None, output, epochs, steps_per_epoch, learning_rate,
                        warmup_steps=min(100, epochs * steps_per_epoch // 10),
                        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                        jit_compile=jit_compile, verbose=verbose)
    return task


def train_arbitrary(data_dir, output, epochs=4, steps_per_epoch=500, batch_size=8,
                    learning_rate=1e-3, checkpoint_dir=None, image_size=128, style_size=256,
                    seed=0, jit_compile="auto", verbose="auto", checkpoint_every=250,
                    content_images=None, style_images=None, task=None, **overrides):
    """Train (or resume) the arbitrary-style (AdaIN) network and save it to ``output``.

    Photographs as for :func:`train`; paintings from ``style_images`` (a list of paths) or
    the built-in data's training paintings (``data.HELD_OUT_STYLES`` are kept out, to
    measure the network on styles it has never seen). ``task``: a trained
    :class:`ArbitraryStyleTask` to train further (its architecture and loss settings, this
    run's crop sizes and a fresh schedule) instead of a new network.

    Example:
        >>> task = train_arbitrary("data/style", "runs/arbitrary", epochs=1, steps_per_epoch=50)
        >>> train_arbitrary("data/style", "runs/arbitrary2", image_size=256, seed=1,
        ...                 task=Task.load("runs/arbitrary"))   # a continuation at 256²
    """
    from tasks.style_transfer.arbitrary_task import ArbitraryStyleTask
    from tasks.style_transfer.data import arbitrary_style_split, make_pair_dataset

    keras.utils.set_random_seed(seed)
    photos = list(content_images) if content_images else train_images(data_dir)
    paintings = list(style_images) if style_images else arbitrary_style_split(data_dir)[0]
    if task is None:
        task = ArbitraryStyleTask(image_size=image_size, style_size=style_size, **overrides)
    else:
        _continue(task, ArbitraryStyleTask, overrides,
                  dict(image_size=image_size, style_size=style_size))
    ds = make_pair_dataset(photos, paintings, image_size, batch_size, style_side=style_size,
                           seed=seed, cache_side=max(image_size, min(512, 3 * image_size)),
                           style_crop=task.style_crop())
    task.train_and_save(ds, None, output, epochs, steps_per_epoch, learning_rate,
                        warmup_steps=min(100, epochs * steps_per_epoch // 10),
                        checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every,
                        jit_compile=jit_compile, verbose=verbose)
    return task
