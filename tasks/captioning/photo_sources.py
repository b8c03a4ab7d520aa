"""Where the photo detector comes from: an npm package, unpacked and converted at build time.

MediaPipe's web build of Objectron (npm ``@mediapipe/objectron``, Apache-2.0) carries its
2-D Open Images detector inside an Emscripten *packed assets* file: one ``.data`` blob plus a
loader script whose ``loadPackage({...})`` call lists each file's byte range. This module
fetches the package with npm's own client, reads that listing, checks the detector's SHA-256,
converts the TFLite flatbuffer to Keras (``tasks/core/tflite_import.py``) and writes a folder
that :class:`tasks.captioning.photo_detector.PhotoDetector` loads. Nothing is downloaded at
run time.

Example:

    folder = build_photo_detector("data/photo")   # npm pack + convert, ~15 s; reused after
    PhotoDetector.load(folder)
"""

import hashlib
import json
import os
import re
import tarfile

from tasks.core.npm import npm_pack

NPM_PACKAGE = "@mediapipe/objectron"
NPM_VERSION = "0.4.1675468480"
ASSETS = "package/objectron_solution_packed_assets.data"
LOADER = "package/objectron_solution_packed_assets_loader.js"
TFLITE_NAME = "object_detection_ssd_mobilenetv2_oidv4_fp16.tflite"
LABELMAP_NAME = "object_detection_oidv4_labelmap.txt"
TFLITE_SHA256 = "d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6"
OUTPUT_NAME = "oidv4_ssd"

_LOAD_PACKAGE = re.compile(r"loadPackage\((\{.*?\"files\".*?\})\)", re.S)


def packed_asset_table(loader_js):
    """The ``{"files": [{"filename", "start", "end"}...]}`` listing of an Emscripten loader.

    Example:
        >>> packed_asset_table('loadPackage({"files": [{"filename": "/a.txt", "start": 0, '
        ...                    '"end": 3}], "remote_package_size": 3})')["files"][0]["end"]
        3
    """
    match = _LOAD_PACKAGE.search(loader_js)
    if not match:
        raise ValueError("loader_js holds no loadPackage({...\"files\"...}) listing")
    try:
        table = json.loads(match.group(1))
    except json.JSONDecodeError as err:
        raise ValueError(f"loader_js has a loadPackage listing that is not JSON: {err}") from None
    if not isinstance(table.get("files"), list):
        raise ValueError("loader_js's loadPackage listing has no list of files")
    return table


def unpack_assets(data, loader_js):
    """Split a packed ``.data`` blob into ``{basename: bytes}`` by its loader's listing.

    Raises ValueError when a listed range lies outside the blob (a cut download).
    """
    files = {}
    for entry in packed_asset_table(loader_js)["files"]:
        start, end = int(entry["start"]), int(entry["end"])
        if not 0 <= start <= end <= len(data):
            raise ValueError(f"packed asset {entry['filename']!r} spans bytes {start}..{end} but "
                             f"the data file has {len(data)} bytes")
        files[os.path.basename(entry["filename"])] = bytes(data[start:end])
    return files


def read_package(tarball):
    """An npm tarball -> (``package.json`` dict, the detector's TFLite bytes, its labels).

    The labels drop the labelmap's first entry, the background class.
    """
    with tarfile.open(tarball, "r:gz") as tar:
        def member(name):
            try:
                return tar.extractfile(name).read()
            except KeyError:
                raise ValueError(f"tarball {tarball!r} has no {name}") from None

        meta = json.loads(member("package/package.json"))
        assets = unpack_assets(member(ASSETS), member(LOADER).decode("utf-8"))
    for name in (TFLITE_NAME, LABELMAP_NAME):
        if name not in assets:
            raise ValueError(f"tarball {tarball!r}: the packed assets hold no {name}")
    labels = [line.strip() for line in assets[LABELMAP_NAME].decode("utf-8").splitlines() if line.strip()]
    return meta, assets[TFLITE_NAME], labels[1:]


def convert(tflite_bytes, labels, folder, provenance, expected_sha256=TFLITE_SHA256):
    """Check the TFLite bytes, convert them to Keras and write the detector ``folder``.

    ``provenance.json`` is written last, so its presence marks a complete build.
    """
    from tasks.captioning.photo_detector import LABELS_FILE, MODEL_FILE
    from tasks.core.tflite_import import keras_model_from_tflite

    digest = hashlib.sha256(tflite_bytes).hexdigest()
    if expected_sha256 and digest != expected_sha256:
        raise ValueError(f"the detector's SHA-256 is {digest}, expected {expected_sha256}: "
                         "a different or damaged package")
    model, outputs = keras_model_from_tflite(tflite_bytes, name="oidv4_ssd_mobilenetv2")
    os.makedirs(folder, exist_ok=True)
    model.save(os.path.join(folder, MODEL_FILE))
    with open(os.path.join(folder, LABELS_FILE), "w", encoding="utf-8") as f:
        f.write("\n".join(labels) + "\n")
    with open(os.path.join(folder, "provenance.json"), "w", encoding="utf-8") as f:
        json.dump({**provenance, "tflite_sha256": digest, "outputs": outputs,
                   "parameters": int(model.count_params())}, f, indent=1)
    return folder


def build_photo_detector(root, force=False, progress=print):
    """Fetch ``@mediapipe/objectron`` with npm, unpack and convert its Open Images SSD.

    Args:
        root: a folder for the npm tarball and the converted detector (``root/oidv4_ssd``).
        force: rebuild even when a complete build is there.
        progress: called with one line per stage (``None`` for silence).

    Returns:
        The detector folder, for :meth:`PhotoDetector.load`.

    Example:
        >>> build_photo_detector("data/photo")
        'data/photo/oidv4_ssd'
    """
    say = progress or (lambda *_: None)
    folder = os.path.join(root, OUTPUT_NAME)
    if not force and os.path.exists(os.path.join(folder, "provenance.json")):
        say(f"reusing the complete build in {folder}")
        return folder
    say(f"[1/3] npm pack {NPM_PACKAGE}@{NPM_VERSION}")
    tarball = npm_pack(NPM_PACKAGE, NPM_VERSION, os.path.join(root, "npm"))
    say("[2/3] unpacking the Emscripten assets")
    meta, tflite_bytes, labels = read_package(tarball)
    say(f"[3/3] converting {TFLITE_NAME} ({len(tflite_bytes) / 1e6:.1f} MB) to Keras")
    provenance = {"package": f"{meta['name']}@{meta['version']}", "licence": meta.get("license"),
                  "file": TFLITE_NAME, "labels": len(labels),
                  "source": "MediaPipe Objectron's 2-D detector, trained on Open Images v4"}
    convert(tflite_bytes, labels, folder, provenance)
    say(f"done: {folder}")
    return folder
