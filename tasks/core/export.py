"""Running a SavedModel written by ``Task.export`` from Python, like the task it came from.

Each task supplies a small subclass (``Task.exported_class``) that exposes the same
inference method as the task, so a pipeline takes either without caring which.

Example:
    >>> model = ExportedModel("exported/captioner")
    >>> model.strings("serving_default", "captions", images=tf.constant([jpeg_bytes]))
    ['a small red dog']
"""

import os

import tensorflow as tf


class ExportedModel:
    """A loaded SavedModel and its signatures (graphs of core TF ops, no Python of ours)."""

    def __init__(self, path, loaded=None):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"model={path!r} is not a SavedModel directory (no saved_model.pb)")
        self.path = path
        # ``loaded``: the SavedModel, when a caller already loaded it to look at its signatures
        self._loaded = tf.saved_model.load(path) if loaded is None else loaded
        self.signatures = self._loaded.signatures

    def run(self, signature, output, **inputs):
        """Call one signature with named inputs; return one named output as numpy."""
        if signature not in self.signatures:
            raise ValueError(f"{self.path!r} has no signature {signature!r}; it has "
                             f"{sorted(self.signatures)}")
        return self.signatures[signature](**inputs)[output].numpy()

    def input_names(self, signature="serving_default"):
        """The named inputs of one signature, e.g. ``['images']``."""
        return sorted(self.signatures[signature].structured_input_signature[1])

    def strings(self, signature, output, **inputs):
        return [s.decode("utf-8") for s in self.run(signature, output, **inputs)]

    def refuse_options(self, **options):
        """Decoding options are fixed inside an export: refuse them clearly."""
        given = sorted(k for k, v in options.items() if v is not None)
        if given:
            raise ValueError(f"{', '.join(given)}: fixed inside an exported SavedModel when it was "
                             "exported; load the saved task directory to change them")
