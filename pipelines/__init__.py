"""One-call inference.

Example:
    >>> import pipelines
    >>> pipelines.caption("photo.jpg")
    'a small red dog to the left of a large blue car'
    >>> pipelines.caption(["a.png", pil_image, uint8_array], beam_width=1)
    ['...', '...', '...']
"""

from pipelines.inputs import MAX_PIXELS, to_image_batch
from pipelines.models import MODELS

__all__ = ["caption", "MAX_PIXELS"]


def caption(image, *, model=None, beam_width=None, max_length=None):
    """Caption one image or a list of images (a list in gives a list out).

    Args:
        image: a path, encoded bytes, a uint8 numpy array (HxWx3, HxW or HxWx4),
            a PIL.Image, or a list of these (run as one batch).
        model: None for the bundled default, a preset name, a directory written by
            ``Task.save`` or a SavedModel written by ``Task.export``.
        beam_width: beam size (1 = greedy); default from the model's config.
        max_length: maximum caption length in tokens.
    """
    if beam_width is not None and (isinstance(beam_width, bool) or not isinstance(beam_width, int)
                                   or beam_width < 1):
        raise ValueError(f"beam_width must be a positive int, got {beam_width!r}")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or max_length < 1):
        raise ValueError(f"max_length must be a positive int, got {max_length!r}")
    batch, was_list = to_image_batch(image)
    captions = MODELS.get("caption", model).caption(batch, beam_width=beam_width,
                                                    max_length=max_length)
    return captions if was_list else captions[0]
