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
        self._loaded = _load_saved_model(path) if loaded is None else loaded
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


def _load_saved_model(path):
    """``tf.saved_model.load`` with a damaged export (a cut or garbled ``saved_model.pb``,
    missing or cut variables) turned into one ValueError naming the directory."""
    from google.protobuf.message import DecodeError

    try:
        return tf.saved_model.load(path)
    except (tf.errors.OpError, OSError, ValueError, KeyError, IndexError, DecodeError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"model={path!r} is a damaged SavedModel (truncated or corrupt "
                         f"saved_model.pb or variables): {message[:300]}") from e
