"""Pinned Debian packages as data sources: download with ``apt-get download`` and
unpack with ``dpkg-deb -x`` (no root, nothing installed), cached and resumable.

Example:
    >>> tree, version = fetch_package("fortunes", "1:1.99.1-7.3", "data/cache")
"""

import glob
import os
import shutil
import subprocess


def _run(cmd, cwd=None):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()[-500:]}")
    return result.stdout


DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _codename():
    with open("/etc/os-release") as f:
        for line in f:
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    raise ValueError("cannot tell the Debian release from /etc/os-release (VERSION_CODENAME)")


def _private_apt(cache, component):
    """apt options that read their own sources list and package lists under ``cache``:
    packages from Debian's ``contrib``/``non-free`` are fetched without changing the
    machine's apt configuration (which may list ``main`` only)."""
    root = os.path.abspath(os.path.join(cache, f"apt-{component}"))  # apt reads relative Dir:: paths from /
    lists = os.path.join(root, "lists")
    os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
    sources = os.path.join(root, "sources.list")
    with open(sources, "w") as f:
        f.write(f"deb [signed-by={DEBIAN_KEYRING}] {DEBIAN_MIRROR} {_codename()} main {component}\n")
    options = ["-o", f"Dir::Etc::SourceList={sources}", "-o", "Dir::Etc::SourceParts=/dev/null",
               "-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={os.path.join(root, 'cache')}"]
    if not glob.glob(os.path.join(lists, "*Packages*")):
        _run(["apt-get", *options, "update"])
    return options


def _download(spec, folder, options=()):
    """``apt-get download``; when that fails as root (a fresh machine's package lists are
    empty), refresh them with ``apt-get update`` and try once more."""
    try:
        _run(["apt-get", *options, "download", spec], cwd=folder)
    except RuntimeError:
        if os.geteuid() != 0:
            raise
        _run(["apt-get", *options, "update"])
        _run(["apt-get", *options, "download", spec], cwd=folder)


def fetch_package(name, version, cache, allow_other_version=False, component="main"):
    """Download and unpack one package (cached); returns (unpacked dir, version used).

    The pinned ``version`` is fetched; when the mirror no longer has it, a clear error,
    unless ``allow_other_version`` takes the candidate version (and reports it).
    ``component`` other than ``"main"`` (``"contrib"``, ``"non-free"``) reads Debian's
    package lists for it into ``cache`` (see ``_private_apt``).
    """
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise ValueError(f"building this corpus needs Debian's {tool} (a Debian or Ubuntu machine)")
    debs, trees = os.path.join(cache, "debs"), os.path.join(cache, "trees")
    os.makedirs(debs, exist_ok=True)
    tree = os.path.join(trees, name)
    marker = os.path.join(tree, ".complete")
    if os.path.exists(marker):
        with open(marker) as f:
            return tree, f.read().strip()
    options = [] if component == "main" else _private_apt(cache, component)
    try:
        _download(f"{name}={version}", debs, options)
        used = version
    except RuntimeError:
        if not allow_other_version:
            raise RuntimeError(f"{name}={version} is not available from the configured Debian "
                               "mirror (run 'apt-get update' once; if it is still missing, pass "
                               "allow_other_version=True, which the manifest records)")
        _download(name, debs, options)
        used = None
    deb = sorted(glob.glob(os.path.join(debs, f"{name}_*.deb")))[-1]
    os.makedirs(tree, exist_ok=True)
    _run(["dpkg-deb", "-x", deb, tree])
    if used is None:
        used = _run(["dpkg-deb", "-f", deb, "Version"]).strip()
    with open(marker, "w") as f:
        f.write(used)
    return tree, used


def find_in_trees(trees, pattern):
    """Sorted paths matching the glob ``pattern`` (``**`` spans folders) under any of the
    unpacked package ``trees``; [] where none does.

    Example:
        >>> find_in_trees([tree], "usr/share/games/fortunes/*.dat")  # doctest: +SKIP
    """
    return sorted(p for tree in trees
                  for p in glob.glob(os.path.join(str(tree), pattern), recursive=True))
