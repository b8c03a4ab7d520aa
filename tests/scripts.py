"""Load a repository script (``tools/*.py``, ``benchmarks/*.py``) as a module, so a test calls
its ``main(argv)`` or its functions in this process (a fresh interpreter would pay
TensorFlow's import again)."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(relative_path):
    """``load_script("tools/train_speech_head.py")`` -> the module, executed once per call."""
    name = os.path.splitext(relative_path.replace(os.sep, "/"))[0].replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, relative_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
