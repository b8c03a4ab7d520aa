"""Weights from TensorFlow.js "layers" models, as npm packages ship them, into Keras layers.

A TF.js layers model is a JSON document (``modelTopology``: a Keras 2 model config;
``weightsManifest``: groups of named weights with shapes, dtypes and an optional uint8/
uint16 affine quantisation) plus binary shards holding the weights back to back. Some
packages (e.g. ``nsfwjs``) bundle both as JavaScript modules (the JSON as an object
literal, each shard as a base64 string); :func:`unwrap_js_modules` turns those back into
``model.json`` + shards with Node.js, the npm registry's own runtime.

Example:
    >>> topology, weights = read_layers_model("mobilenet_v2/model.json")
    >>> weights["Conv1/kernel"].shape
    (3, 3, 3, 32)
"""

import json
import os
import shutil
import subprocess

import numpy as np

_DTYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "uint16": np.uint16,
           "bool": np.bool_}


def decode_weights(manifest, buffer):
    """``{name: array}`` from one weights-manifest group list and the concatenated shards."""
    values, offset = {}, 0
    for group in manifest:
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            quantization = spec.get("quantization")
            stored = _DTYPES[quantization["dtype"] if quantization else spec["dtype"]]
            size = count * np.dtype(stored).itemsize
            if offset + size > len(buffer):
                raise ValueError(f"weights end early: {spec['name']!r} needs bytes "
                                 f"{offset}..{offset + size}, the shards hold {len(buffer)}")
            array = np.frombuffer(buffer, stored, count, offset)
            offset += size
            if quantization:
                if "scale" not in quantization:
                    raise ValueError(f"{spec['name']!r}: only affine (min/scale) quantisation "
                                     "is supported")
                array = array.astype(np.float32) * quantization["scale"] + quantization["min"]
            values[spec["name"]] = array.reshape(spec["shape"]).astype(_DTYPES[spec["dtype"]])
    if offset != len(buffer):
        raise ValueError(f"the manifest describes {offset} bytes of weights, the shards hold "
                         f"{len(buffer)}")
    return values


def read_layers_model(path):
    """``(model topology dict, {weight name: array})`` from a ``model.json`` and its shards."""
    if not os.path.isfile(path):
        raise ValueError(f"path={path!r}: no TF.js model.json there")
    with open(path) as f:
        document = json.load(f)
    if "weightsManifest" not in document:
        raise ValueError(f"path={path!r} is not a TF.js model (no weightsManifest)")
    folder = os.path.dirname(path)
    buffer = b""
    for group in document["weightsManifest"]:
        for shard in group["paths"]:
            with open(os.path.join(folder, shard), "rb") as f:
                buffer += f.read()
    return document.get("modelTopology"), decode_weights(document["weightsManifest"], buffer)


def assign_by_layer_name(model, weights):
    """Set every weighted layer of a Keras ``model`` from TF.js weights named
    ``<layer>/<variable>``; returns the number of layers set.

    Keras 3 calls a depthwise kernel ``kernel``; Keras 2 (and so TF.js) ``depthwise_kernel``.
    """
    import keras

    count = 0
    for layer in model.layers:
        if not layer.weights:
            continue
        names = []
        for variable in layer.weights:
            short = variable.name
            if isinstance(layer, keras.layers.DepthwiseConv2D) and short == "kernel":
                short = "depthwise_kernel"
            names.append(f"{layer.name}/{short}")
        missing = [n for n in names if n not in weights]
        if missing:
            raise ValueError(f"layer {layer.name!r}: the TF.js weights lack {missing}")
        layer.set_weights([weights[n] for n in names])
        count += 1
    return count


_UNWRAP = """
const fs = require("fs"), path = require("path");
const [src, dst] = process.argv.slice(1);
const model = require(path.resolve(src, "model.min.js"));
const paths = [];
for (const group of model.weightsManifest) {
  for (const shard of group.paths) {
    const data = require(path.resolve(src, shard + ".min.js"));
    fs.writeFileSync(path.join(dst, shard), Buffer.from(data, "base64"));
  }
}
fs.writeFileSync(path.join(dst, "model.json"), JSON.stringify(model));
"""


def unwrap_js_modules(folder, output):
    """Turn a folder of bundled ``model.min.js`` + ``<shard>.min.js`` modules into
    ``output/model.json`` + binary shards (needs ``node``). Returns the model.json path."""
    if shutil.which("node") is None:
        raise ValueError("unwrapping TF.js JavaScript modules needs Node.js ('node' on PATH)")
    if not os.path.isfile(os.path.join(folder, "model.min.js")):
        raise ValueError(f"folder={folder!r} has no model.min.js")
    os.makedirs(output, exist_ok=True)
    result = subprocess.run(["node", "-e", _UNWRAP, folder, output], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"node could not unwrap {folder!r}: {result.stderr.strip()[-500:]}")
    return os.path.join(output, "model.json")
