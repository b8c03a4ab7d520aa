"""Read files out of a compiled Qt resource bundle (``.rcc``), as GCompris ships its images.

The format (Qt's ``rcc`` binary, versions 1-3): a ``qres`` header with three offsets,
a tree of fixed-size nodes (directories list their children, files point into the data
block), UTF-16 names, and data entries that may be zlib-compressed (``qCompress``: a
4-byte uncompressed size, then a zlib stream).

Example:
    >>> files = read_qt_resources(open("paintings.rcc", "rb").read())
    >>> sorted(files)[:1]
    ['gcompris/src/activities/paintings/ActivityInfo.qml']
"""

import struct
import zlib

_COMPRESSED, _DIRECTORY, _ZSTD = 1, 2, 4


def read_qt_resources(blob):
    """``{path: bytes}`` of every file in an ``.rcc`` bundle; ValueError when it is not one."""
    if len(blob) < 20 or blob[:4] != b"qres":
        raise ValueError("not a Qt resource bundle (no 'qres' magic)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"unsupported Qt resource version {version}")
    node_size = 14 if version == 1 else 22  # versions 2+ add a 64-bit modification time

    def name_at(offset):
        start = names + offset
        (length,) = struct.unpack(">H", blob[start:start + 2])
        return blob[start + 6:start + 6 + 2 * length].decode("utf-16-be")  # skip the 4-byte hash

    files = {}
    stack = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        node = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", blob[node:node + 6])
        name = name_at(name_offset) if index else ""
        path = f"{prefix}/{name}" if prefix else name
        if flags & _DIRECTORY:
            count, first = struct.unpack(">II", blob[node + 6:node + 14])
            stack.extend((child, path) for child in range(first, first + count))
            continue
        (offset,) = struct.unpack(">I", blob[node + 10:node + 14])
        (size,) = struct.unpack(">I", blob[data + offset:data + offset + 4])
        payload = blob[data + offset + 4:data + offset + 4 + size]
        if flags & _ZSTD:
            raise ValueError(f"{path}: zstd-compressed resources are not supported")
        if flags & _COMPRESSED:
            payload = zlib.decompress(payload[4:])
        files[path] = payload
    return files
