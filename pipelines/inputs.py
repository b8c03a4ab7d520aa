"""Input coercion for every image pipeline, in one place.

Accepts a path (str / os.PathLike), encoded bytes, a numpy array (uint8 HxWx3,
HxW grayscale or HxWx4 RGBA; float arrays in 0..255 or 0..1 are refused to avoid
guessing), a PIL.Image, or a list of these. Everything comes out as encoded
image bytes, so the TensorFlow graph (the same one that is exported) does all the
decoding and resizing: there is no second, Python-side preprocessing path.

Images larger than ``MAX_PIXELS`` are rejected before they are decoded.

Example:
    >>> batch, was_list = to_image_batch(["cat.jpg", open("dog.png", "rb").read()])
"""

import io
import os
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # 40 megapixels: larger inputs are rejected, never decoded
_GRAPH_FORMATS = {"JPEG", "PNG", "GIF", "BMP"}  # what tf.io.decode_image reads


def _encode_png(image):
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _check_size(width, height, what):
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"{what} is {width}x{height} = {width * height} pixels, above the limit of "
            f"{MAX_PIXELS} (pipelines.inputs.MAX_PIXELS); downscale it first"
        )
    if width < 1 or height < 1:
        raise ValueError(f"{what} has an empty size {width}x{height}")


def _from_bytes(data, what):
    if len(data) == 0:
        raise ValueError(f"{what} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check size below
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ValueError(f"{what} is not an image file PIL can read") from None
    except Image.DecompressionBombError as err:
        raise ValueError(f"{what} is above the limit of pixels PIL will open: {err}") from None
    _check_size(*image.size, what)
    try:
        image.load()  # catches truncated / corrupt payloads before TensorFlow sees them
    except (OSError, SyntaxError) as err:
        raise ValueError(f"{what} is truncated or corrupt: {err}") from None
    if image.format in _GRAPH_FORMATS and image.mode in ("RGB", "L", "RGBA", "P", "LA"):
        return bytes(data)
    return _encode_png(image.convert("RGB"))


def _from_array(array, what):
    if array.dtype != np.uint8:
        raise TypeError(f"{what} has dtype {array.dtype}; expected uint8 pixels (0..255)")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        mode = "L"
    elif array.ndim == 3 and array.shape[-1] in (3, 4):
        mode = "RGB" if array.shape[-1] == 3 else "RGBA"
    else:
        raise ValueError(f"{what} has shape {array.shape}; expected HxW, HxWx1, HxWx3 or HxWx4")
    _check_size(array.shape[1], array.shape[0], what)
    image = Image.fromarray(np.ascontiguousarray(array), mode)
    return _encode_png(image.convert("RGB"))


def to_image_bytes(item, what="image"):
    """One image in any accepted form -> encoded bytes TensorFlow can decode."""
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        if not os.path.exists(path):
            raise ValueError(f"{what}: file {path!r} does not exist")
        if os.path.isdir(path):
            raise ValueError(f"{what}: {path!r} is a directory, expected an image file")
        with open(path, "rb") as f:
            return _from_bytes(f.read(), f"{what} ({path})")
    if isinstance(item, (bytes, bytearray, memoryview)):
        return _from_bytes(bytes(item), what)
    if isinstance(item, Image.Image):
        _check_size(*item.size, what)
        return _encode_png(item.convert("RGB"))
    if isinstance(item, np.ndarray):
        return _from_array(item, what)
    raise TypeError(
        f"{what} has type {type(item).__name__}; expected a path, bytes, a uint8 numpy "
        "array, a PIL.Image, or a list of these"
    )


def to_image_batch(images, argument="image"):
    """Return (list of encoded bytes, was_a_list)."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"{argument} is an empty list; pass at least one image")
        return [to_image_bytes(x, f"{argument}[{i}]") for i, x in enumerate(images)], True
    return [to_image_bytes(images, argument)], False
