"""Fetching npm packages with npm's own client, for build scripts that convert bundled models.

Example:

    tarball = npm_pack("@mediapipe/objectron", "0.4.1675468480", "data/photo/npm")
"""

import os
import shutil
import subprocess


def npm_pack(package, version, directory):
    """Fetch ``package@version`` with ``npm pack`` into ``directory``; returns the tarball path.

    Raises RuntimeError when npm is missing or the registry refuses (no silent fallback).

    Example:
        >>> npm_pack("nsfwjs", "4.4.0", "/tmp/npm")
        '/tmp/npm/nsfwjs-4.4.0.tgz'
    """
    if shutil.which("npm") is None:
        raise RuntimeError("npm is not installed; install Node.js and npm (e.g. apt-get install npm)")
    os.makedirs(directory, exist_ok=True)
    out = subprocess.run(["npm", "pack", f"{package}@{version}", "--pack-destination", directory,
                          "--silent"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"npm pack {package}@{version} failed: {out.stderr.strip()[-500:]}")
    return os.path.join(directory, out.stdout.strip().splitlines()[-1])
