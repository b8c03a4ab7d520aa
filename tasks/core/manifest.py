"""Build manifests: reuse a complete build, write the manifest atomically.

Every built-in dataset writes ``manifest.json`` last; a build whose manifest holds the
same defining keys (version, seed, sizes, sources...) is complete and is reused.

Example:
    >>> done = reusable_manifest(root, {"version": 1, "seed": 0})
    >>> if done is None: ...build...; write_manifest(root, {...})
"""

import json
import os


def check_split_sizes(sizes, splits=("train", "val", "test")):
    """Raise ValueError unless ``sizes`` maps known split names to non-negative ints."""
    for split, n in sizes.items():
        if split not in splits:
            raise ValueError(f"sizes has unknown split {split!r}; expected {'/'.join(splits)}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"sizes[{split!r}] must be a non-negative int, got {n!r}")


def reusable_manifest(root, wanted):
    """The existing manifest when its keys in ``wanted`` match, else None."""
    path = os.path.join(root, "manifest.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        manifest = json.load(f)
    return manifest if {k: manifest.get(k) for k in wanted} == wanted else None


def write_manifest(root, manifest):
    path = os.path.join(root, "manifest.json")
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    os.replace(path + ".tmp", path)
    return manifest
