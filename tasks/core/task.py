"""The Task base: build from a config, fit, evaluate, save/load, export.

A task subclass supplies four pieces (STYLE.md): a reader, a preprocessor layer,
a functional model and a decoder. This base owns what is the same for every
task: training with Keras ``fit`` (checkpoints, resume, schedules, switches for XLA,
mixed precision and distribution), the on-disk format and the export wrapper.

Saved format (a directory): ``task.json`` (task name + config), ``preprocessor.json``
(Keras-serialised preprocessor, vocabulary included) and ``model.keras``; loading
uses ``safe_mode=True`` throughout.

Example:
    >>> task = CaptioningTask.from_preset("emoji_scenes_transformer")
    >>> task.fit(train_ds, validation_data=val_ds, epochs=3, checkpoint_dir="ckpt")
    >>> task.save("my_captioner"); Task.load("my_captioner")
"""

import contextlib
import importlib
import json
import os
import time
import zipfile

import keras
import numpy as np
import tensorflow as tf

from tasks.core import training

_TASKS = {}


def register_task(cls):
    """Class decorator: make a Task subclass loadable by ``Task.load``."""
    _TASKS[cls.name] = cls
    return cls


@contextlib.contextmanager
def dtype_policy(name):
    """Build under a dtype policy ('float32', 'mixed_float16', 'mixed_bfloat16') and restore."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class Task:
    """Base class. Subclasses set ``name``, ``default_config`` and implement the hooks."""

    name = None
    default_config = {}
    presets = {}
    # an ExportedModel subclass with the task's inference method (or a function of the path
    # that returns one, where one task exports more than one kind of graph)
    exported_class = None

    def __init__(self, config=None, preprocessor=None, model=None, **overrides):
        unknown = set(overrides) - set(self.default_config)
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown config keys {sorted(unknown)}; "
                            f"known keys: {sorted(self.default_config)}")
        self.config = {**self.default_config, **(config or {}), **overrides}
        self.strategy = training.resolve_strategy(self.config.get("strategy"))
        self.preprocessor = preprocessor if preprocessor is not None else self.build_preprocessor()
        self.model = model if model is not None else self.build_model_in_scope()

    def build_model_in_scope(self):
        """:meth:`build_model` under this task's distribution strategy and dtype policy."""
        with self.strategy.scope(), dtype_policy(self.config.get("dtype_policy", "float32")):
            return self.build_model()

    # -- hooks ------------------------------------------------------------------------
    def build_preprocessor(self):
        raise NotImplementedError

    def build_model(self):
        raise NotImplementedError

    def loss(self):
        raise NotImplementedError

    def serving_endpoints(self):
        """{name: (fn, input_signature)}; the first entry becomes ``serving_default``."""
        raise NotImplementedError

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_preset(cls, preset, **overrides):
        """Build from a named preset (config + bundled weights when it ships them)."""
        if preset not in cls.presets:
            raise ValueError(f"preset={preset!r} is not one of {sorted(cls.presets)}")
        spec = cls.presets[preset]
        if spec.get("path"):
            if not os.path.exists(os.path.join(spec["path"], "task.json")):
                raise ValueError(f"preset={preset!r} ships weights at {spec['path']!r}, but they are "
                                 "missing from this install; reinstall the package or retrain them")
            return Task.load(spec["path"], **overrides)
        return cls(spec["config"], **overrides)

    # -- training ---------------------------------------------------------------------
    def compile(self, learning_rate=1e-3, total_steps=10_000, warmup_steps=None, weight_decay=0.01,
                jit_compile="auto"):
        """AdamW + warm-up/cosine; ``jit_compile`` True/False/'auto'.

        'auto' turns XLA on when a GPU is present: on the 2-core CPU reference machine
        XLA made the captioning train step slower (186 vs 317 examples/s).
        """
        if jit_compile == "auto":
            jit_compile = bool(tf.config.list_physical_devices("GPU"))
        with self.strategy.scope():
            self.optimizer = training.make_optimizer(learning_rate, total_steps, warmup_steps,
                                                     weight_decay)
            self.model.compile(optimizer=self.optimizer, loss=self.loss(), jit_compile=jit_compile)
            # Built here, in the strategy's scope, so slots are distributed variables and
            # checkpoints see every slot from the first step.
            self.optimizer.build(self.model.trainable_variables)

    def fit(self, train_data, validation_data=None, epochs=1, steps_per_epoch=None,
            checkpoint_dir=None, checkpoint_every=500, log_dir=None, early_stopping_patience=None,
            callbacks=(), verbose="auto", **compile_args):
        """Keras ``fit`` with checkpoints and resume.

        ``train_data`` is a finite dataset or, with ``steps_per_epoch``, a repeated one.
        With ``checkpoint_dir`` the run resumes from its newest checkpoint: model,
        optimizer (and so the schedule) are restored and the already-seen batches of a
        deterministic pipeline are skipped, so a killed run continues the same run.
        """
        if not hasattr(self, "optimizer"):
            total = epochs * (steps_per_epoch or int(train_data.cardinality()))
            if total <= 0:
                raise ValueError("pass steps_per_epoch for an infinite or unknown-size train_data")
            self.compile(total_steps=total, **compile_args)
        chief = training.is_chief(self.strategy)
        cbs = list(callbacks) + training.standard_callbacks(log_dir if chief else None,
                                                            early_stopping_patience)
        initial_epoch = 0
        if checkpoint_dir:
            step = training.restore_latest(self.model, self.optimizer, checkpoint_dir)
            cbs.append(training.StepCheckpoint(self.model, self.optimizer, checkpoint_dir,
                                               checkpoint_every, is_chief=chief))
            if step:
                if steps_per_epoch is None:
                    raise ValueError("resuming needs steps_per_epoch (a repeated train_data)")
                # One fit over one iterator: a second fit (or a second iterator of the
                # same shuffled dataset) would draw a different shuffle order. Epoch
                # boundaries shift by the interrupted part; the step sequence does not.
                train_data = train_data.skip(step)
                initial_epoch = step // steps_per_epoch
                cbs.append(training.StopAtStep(epochs * steps_per_epoch))
        if initial_epoch >= epochs:
            return None
        return self.model.fit(train_data, epochs=epochs, initial_epoch=initial_epoch,
                              steps_per_epoch=steps_per_epoch, validation_data=validation_data,
                              callbacks=cbs, verbose=verbose)

    def train_and_save(self, train_data, validation_data, output, epochs, steps_per_epoch,
                       learning_rate=1e-3, warmup_steps=None, checkpoint_dir=None,
                       checkpoint_every=500, jit_compile="auto", verbose="auto"):
        """The recipes' common tail: compile on a schedule of ``epochs * steps_per_epoch``
        steps, fit with checkpoints (default ``output/checkpoints``, resumed when present)
        and TensorBoard logs in ``output/logs``, then save to ``output``. The wall time
        of this run is ``self.training_seconds``.

        Example:
            >>> task.train_and_save(train_ds, val_ds, "runs/mine", epochs=2, steps_per_epoch=100)
        """
        self.compile(learning_rate=learning_rate, total_steps=epochs * steps_per_epoch,
                     warmup_steps=warmup_steps, jit_compile=jit_compile)
        start = time.time()
        self.fit(train_data, validation_data=validation_data, epochs=epochs,
                 steps_per_epoch=steps_per_epoch,
                 checkpoint_dir=checkpoint_dir or os.path.join(output, "checkpoints"),
                 checkpoint_every=checkpoint_every, log_dir=os.path.join(output, "logs"),
                 verbose=verbose)
        self.training_seconds = time.time() - start
        self.save(output)
        return self

    # -- persistence ------------------------------------------------------------------
    def save(self, path):
        """Write ``path/`` (task.json, preprocessor.json, model.keras)."""
        os.makedirs(path, exist_ok=True)
        config = {k: v for k, v in self.config.items() if k != "strategy"}
        with open(os.path.join(path, "task.json"), "w") as f:
            # the module lets Task.load find a task class that is not tasks/<name>/task.py
            json.dump({"task": self.name, "module": type(self).__module__, "config": config}, f,
                      indent=1)
        with open(os.path.join(path, "preprocessor.json"), "w") as f:
            json.dump(keras.saving.serialize_keras_object(self.preprocessor), f)
        self.save_model_file(path)
        return path

    @staticmethod
    def load(path, **overrides):
        """Load a directory written by :meth:`save` (safe_mode on).

        ``overrides`` replace saved config values; ``dtype_policy`` (e.g.
        ``"mixed_bfloat16"``) rebuilds the network under that policy with the saved weights.

        Example:
            >>> task = Task.load("tasks/translation/weights/debian_en_fr_transformer",
            ...                  dtype_policy="mixed_bfloat16")
        """
        meta_path = os.path.join(path, "task.json")
        if not os.path.exists(meta_path):
            raise ValueError(f"path={path!r} is not a saved task (no task.json)")
        meta = _read_json(meta_path)
        name = meta.get("task") if isinstance(meta, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            raise ValueError(f"{meta_path!r} is not a saved task's metadata (expected an object "
                             "with 'task' and 'config')")
        module = meta.get("module")
        if name not in _TASKS and isinstance(module, str) and module.startswith("tasks."):
            try:  # only our own package's modules: a saved file never chooses code elsewhere
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                if not module.startswith(str(e.name)):
                    raise
        if name not in _TASKS and isinstance(name, str) and name.isidentifier():
            # a built-in task registers itself when its module is imported; load it for the
            # user rather than asking them to import it first
            try:
                importlib.import_module(f"tasks.{name}.task")
            except ModuleNotFoundError as e:
                if e.name not in (f"tasks.{name}", f"tasks.{name}.task"):
                    raise
        cls = _TASKS.get(name)
        if cls is None:
            raise ValueError(f"saved task {name!r} is not registered; known: {sorted(_TASKS)}")
        preprocessor_path = os.path.join(path, "preprocessor.json")
        preprocessor = _load_safely(preprocessor_path, lambda p: keras.saving.deserialize_keras_object(
            _read_json(p), safe_mode=True))
        model = cls.load_model_file(path)
        policy = overrides.pop("dtype_policy", None)
        task = cls({**meta["config"], **overrides}, preprocessor=preprocessor, model=model)
        # where files a task keeps beside its model (e.g. a language model) are found
        task.directory = os.path.abspath(path)
        # a model file keeps the policy it was saved with
        return task if policy is None else task.with_dtype_policy(policy)

    def with_dtype_policy(self, policy):
        """This task with its network rebuilt under dtype ``policy`` ('float32',
        'mixed_bfloat16', 'mixed_float16') and the same weights (variables stay float32
        under the mixed policies); ``self`` when it already runs under ``policy``.

        Example:
            >>> fast = task.with_dtype_policy("mixed_bfloat16")  # CPUs with native bfloat16
        """
        if policy not in ("float32", "mixed_bfloat16", "mixed_float16", "bfloat16", "float16"):
            raise ValueError(f"policy must be a Keras dtype policy name such as 'float32' or "
                             f"'mixed_bfloat16', got {policy!r}")
        if policy == self.config.get("dtype_policy", "float32"):
            return self
        task = type(self)({**self.config, "dtype_policy": policy}, preprocessor=self.preprocessor)
        task.model.set_weights(self.model.get_weights())
        task.directory = getattr(self, "directory", None)
        return task

    # weights stored as model.json + weights.npz, each array in float16 where that is exact
    # (weights converted from a float16 upstream checkpoint), else as it is
    ARCHITECTURE_FILE = "model.json"
    WEIGHTS_FILE = "weights.npz"

    def compact_weights(self):
        """Whether :meth:`save` writes the compact form (``model.json`` + ``weights.npz``,
        float16 where exact) instead of ``model.keras``; tasks built on float16 upstream
        weights say yes."""
        return False

    def save_model_file(self, path):
        """Write the model into the saved directory ``path``: ``model.keras``, or the compact
        exact form when :meth:`compact_weights` says so."""
        if self.compact_weights():
            weights = self.model.get_weights()
            stored = {}
            for i, w in enumerate(weights):
                half = w.astype(np.float16) if w.dtype == np.float32 else w
                stored[f"w{i:04d}"] = half if np.array_equal(half.astype(w.dtype), w) else w
            architecture = keras.saving.serialize_keras_object(self.model)
            architecture.pop("compile_config", None)  # the weights alone, as model.keras below
            with open(os.path.join(path, self.ARCHITECTURE_FILE), "w", encoding="utf-8") as f:
                json.dump(architecture, f)
            np.savez_compressed(os.path.join(path, self.WEIGHTS_FILE), **stored)
            return
        # Keras 3 always writes a compiled model's optimizer state; an uncompiled copy keeps
        # the file to the weights alone (a third of the size for Adam-type optimizers).
        bare = self.model.__class__.from_config(self.model.get_config())
        bare.set_weights(self.model.get_weights())
        bare.save(os.path.join(path, "model.keras"))

    @classmethod
    def load_model_file(cls, path):
        """The model of the saved directory ``path`` (safe_mode on), in whichever form
        :meth:`save_model_file` wrote it."""
        architecture = os.path.join(path, cls.ARCHITECTURE_FILE)
        if not os.path.exists(architecture):
            return _refreeze(_load_safely(os.path.join(path, "model.keras"),
                                          lambda p: keras.saving.load_model(
                                              p, compile=False, safe_mode=True)))
        model = _load_safely(architecture, lambda p: keras.saving.deserialize_keras_object(
            _read_json(p), safe_mode=True))

        def set_weights(file):
            with np.load(file, allow_pickle=False) as stored:
                model.set_weights([stored[n].astype(w.dtype) for n, w in
                                   zip(sorted(stored.files), model.weights)])
            return model

        return _refreeze(_load_safely(os.path.join(path, cls.WEIGHTS_FILE), set_weights))

    def export(self, path):
        """Write a SavedModel for TF Serving (core TF ops only, no Python at serving time)."""
        archive = keras.export.ExportArchive()
        archive.track(self.model)
        archive.track(self.preprocessor)
        for i, (name, (fn, signature)) in enumerate(self.serving_endpoints().items()):
            archive.add_endpoint("serving_default" if i == 0 else name, fn, input_signature=signature)
        archive.write_out(path, verbose=False)
        return path


def _refreeze(model):
    """``model`` with each frozen layer's flag set again. A layer that creates its sublayers
    when first built (keras-hub's TransformerEncoder) gets its saved ``trainable=False``
    before they exist, so they came back trainable and training moved them; setting the flag
    again reaches them (through True: setting the value a layer already has does nothing)."""
    for layer in model.layers:
        if not layer.trainable:
            layer.trainable = True
            layer.trainable = False
        elif isinstance(layer, keras.Model):
            _refreeze(layer)
    return model


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path!r} is not valid JSON ({e})") from e


def _load_safely(path, load):
    """``load(path)`` with every way a missing, truncated, corrupt or unsafe file fails (a
    Lambda layer or an unregistered class under safe_mode, a cut zip or HDF5 file) turned
    into one ValueError naming the file."""
    if not os.path.isfile(path):
        raise ValueError(f"{path!r} is missing: a saved task needs task.json, preprocessor.json "
                         "and model.keras")
    try:
        return load(path)
    except (ValueError, TypeError, KeyError, AttributeError, OSError, EOFError,
            zipfile.BadZipFile) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{path!r} could not be loaded safely (truncated, corrupt, or refused "
                         f"by safe_mode): {message[:300]}") from e
