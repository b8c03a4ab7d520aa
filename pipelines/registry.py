"""Task name -> pipeline verb, Task class, default preset and CLI module. One entry per task.

Example:
    >>> task_class("transcribe")
    <class 'tasks.speech.task.SpeechTask'>
"""

import importlib

TASKS = {
    "captioning": {"pipeline": "caption", "task": "tasks.captioning.task:CaptioningTask",
                   "default": "photo_objects_ssd",
                   "also": ["tasks.captioning.photo_task:PhotoCaptioningTask"]},
    "speech": {"pipeline": "transcribe", "task": "tasks.speech.task:SpeechTask",
               "default": "speech_en_whisper"},
    "translation": {"pipeline": "translate", "task": "tasks.translation.task:TranslationTask",
                    "default": "debian_en_fr_transformer"},
    "style_transfer": {"pipeline": "stylize", "task": "tasks.style_transfer.task:StyleTransferTask",
                       "default": "great_wave",
                       # more Task classes behind the same pipeline, with presets of their own
                       "also": ["tasks.style_transfer.arbitrary_task:ArbitraryStyleTask"]},
    "video": {"pipeline": "annotate_video", "task": "tasks.video.task:VideoTask",
              "default": "emoji_events_bigru"},
}
# pipeline verb -> (Task class path, default preset)
REGISTRY = {spec["pipeline"]: (spec["task"], spec["default"]) for spec in TASKS.values()
            if spec.get("pipeline")}
# CLI task names (``pipelines train captioning``) -> pipeline verbs
TASK_NAMES = {name: spec["pipeline"] for name, spec in TASKS.items() if spec.get("pipeline")}


def _import(path):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def task_class(pipeline):
    """Import and return the Task class behind a pipeline name."""
    if pipeline not in REGISTRY:
        raise ValueError(f"unknown pipeline {pipeline!r}; known: {sorted(REGISTRY)}")
    return _import(REGISTRY[pipeline][0])


def task_classes(pipeline):
    """The pipeline's Task class, then any others it also runs (e.g. the arbitrary-style
    network beside the fast ones)."""
    spec = next(s for s in TASKS.values() if s.get("pipeline") == pipeline)
    return [task_class(pipeline)] + [_import(path) for path in spec.get("also", ())]


def preset_owner(pipeline, preset):
    """The Task class among :func:`task_classes` that has ``preset``, or None."""
    return next((cls for cls in task_classes(pipeline) if preset in cls.presets), None)


def default_preset(pipeline):
    return REGISTRY[pipeline][1]


def cli_module(task):
    """The module whose ``register(commands)`` adds a task's command-line verbs."""
    return f"tasks.{task}.cli"
