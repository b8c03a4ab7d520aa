"""Loading and caching of the models behind the pipelines (thread-safe, load once).

A ``model`` argument may be None (the bundled default), a preset name, a directory
written by ``Task.save`` or a SavedModel written by ``Task.export``.
"""

import os
import threading

from pipelines import registry


class ModelCache:
    """Loads each (pipeline, model) once; safe to share between threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._models = {}

    def get(self, pipeline, model=None):
        key = (pipeline, model if isinstance(model, str) or model is None else id(model))
        with self._lock:
            if key not in self._models:
                self._models[key] = self._load(pipeline, model)
            return self._models[key]

    @staticmethod
    def load_uncached(pipeline, model=None):
        """A new copy of the model, not shared with the pipelines (for training it further).

        Example:
            >>> task = MODELS.load_uncached("translate", "debian_en_fr_transformer")
        """
        return ModelCache._load(pipeline, model)

    @staticmethod
    def _load(pipeline, model):
        from tasks.core.export import ExportedModel  # TensorFlow is imported on first use only

        cls = registry.task_class(pipeline)
        if model is None:
            model = registry.default_preset(pipeline)
        if not isinstance(model, (str, os.PathLike)):
            if isinstance(model, (*registry.task_classes(pipeline), ExportedModel)):
                return model
            raise TypeError(f"model has type {type(model).__name__}; expected a preset name, "
                            "a saved task directory or an exported SavedModel directory")
        model = os.fspath(model)
        owner = registry.preset_owner(pipeline, model)
        if owner is not None:
            return owner.from_preset(model)
        if os.path.isfile(os.path.join(model, "task.json")):
            return cls.load(model)
        if os.path.isfile(os.path.join(model, "saved_model.pb")):
            return cls.exported_class(model)
        raise ValueError(
            f"model={model!r} is not a preset "
            f"({sorted(p for c in registry.task_classes(pipeline) for p in c.presets)}), a saved task directory "
            "(with task.json) or an exported SavedModel (with saved_model.pb)"
        )


MODELS = ModelCache()
