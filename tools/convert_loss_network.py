"""Build the bundled loss network from the npm package ``nsfwjs`` (MIT).

    python tools/convert_loss_network.py            # writes tasks/style_transfer/weights/loss_networks/

Fetches ``nsfwjs@4.4.0`` with ``npm pack``, unwraps its bundled MobileNetV2 (a TF.js layers
model whose early blocks keep their ImageNet weights, frozen while nsfwjs trained its head;
stored uint8-quantised), loads the weights into ``keras.applications.MobileNetV2`` by layer
name, cuts the network after the deepest layer the style losses use, and saves it with a
provenance file (package, version, licence, SHA-256 of the source shard).
"""

import argparse
import hashlib
import json
import os
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PACKAGE, VERSION = "nsfwjs", "4.4.0"


def main(argv=None):
    import keras

    from tasks.core.npm import npm_pack
    from tasks.style_transfer import loss_network, tfjs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=loss_network.WEIGHTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"npm pack {PACKAGE}@{VERSION}", flush=True)
        with tarfile.open(npm_pack(PACKAGE, VERSION, tmp)) as tar:
            tar.extractall(tmp, filter="data")
        source = os.path.join(tmp, "package", "dist", "models", "mobilenet_v2")
        model_json = tfjs.unwrap_js_modules(source, os.path.join(tmp, "unwrapped"))
        _, weights = tfjs.read_layers_model(model_json)
        with open(os.path.join(tmp, "unwrapped", "group1-shard1of1"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        with open(os.path.join(tmp, "package", "LICENSE")) as f:
            licence_line = f.readline().strip()
    full = keras.applications.MobileNetV2(input_shape=(None, None, 3), include_top=False,
                                          weights=None)
    count = tfjs.assign_by_layer_name(full, weights)
    spec = loss_network.NETWORKS["mobilenet_v2_nsfwjs"]
    names = [layer.name for layer in full.layers]
    # "pixels" (the input itself) is a style source too, but not a layer of the network
    used = [n for n in spec["style"] + spec["content"] if n in names]
    deepest = max(used, key=names.index)
    cut = keras.Model(full.input, full.get_layer(deepest).output, name="mobilenet_v2_nsfwjs")
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "mobilenet_v2_nsfwjs.keras")
    cut.save(path)
    provenance = {"package": f"{PACKAGE}@{VERSION}", "registry": "npm", "licence": licence_line,
                  "model": "dist/models/mobilenet_v2 (TF.js layers, uint8-quantised weights)",
                  "source_shard_sha256": digest, "layers_assigned": count,
                  "cut_after": deepest, "parameters": int(cut.count_params())}
    with open(os.path.join(args.output, "mobilenet_v2_nsfwjs.json"), "w") as f:
        json.dump(provenance, f, indent=1)
    print(json.dumps(provenance, indent=1))


if __name__ == "__main__":
    main()
