"""Pipeline name -> (task class, default preset). One line per task."""

import importlib

REGISTRY = {
    "caption": ("tasks.captioning.task:CaptioningTask", "emoji_scenes_transformer"),
    "transcribe": ("tasks.speech.task:SpeechTask", "speech_en_bigru"),
}
# CLI task names (``pipelines train captioning``) -> pipeline verbs
TASK_NAMES = {"captioning": "caption", "speech": "transcribe"}


def task_class(pipeline):
    """Import and return the Task class behind a pipeline name."""
    if pipeline not in REGISTRY:
        raise ValueError(f"unknown pipeline {pipeline!r}; known: {sorted(REGISTRY)}")
    module, _, name = REGISTRY[pipeline][0].partition(":")
    return getattr(importlib.import_module(module), name)


def default_preset(pipeline):
    return REGISTRY[pipeline][1]
