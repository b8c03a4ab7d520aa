"""The real-photo detector on real photographs: right main object, false claims, speed;
and, side by side on the same photos, captions from the bundled photo captioner
(``photo_objects_ssd``: detector labels + a template sentence, in the graph), the bundled
emoji captioner (a trained Transformer decoder) and the Python template reference.

    python tools/build_photo_detector.py                # once: data/photo/oidv4_ssd
    python benchmarks/photo_detector.py                 # JSON to stdout

Five sets of photos (``tasks/captioning/photo_eval.py``): the ones scikit-image and
scikit-learn ship, GCompris's photos from the Debian package ``gcompris-qt-data``, the
photographs among the Debian wallpaper packages (MATE, Lomiri, Plasma), and the photographic
cut-outs among Tux Paint's stamps (``tuxpaint-stamps-default``), each pasted on grey. Which of
the detector's 23 classes each holds was written for this project by looking at them; a photo
whose content is ambiguous for those classes (a motorcycle: "Vehicle"?) is left out. "Right"
means the best detection names an object the photo holds; a "false claim" is any detection on a
photo holding none. For the captions, "right" means the caption holds a word for an object the
photo holds, and a false claim is any caption but the abstention "a photo" on a photo holding
none.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
CAPTION_THRESHOLD = 0.5


def _evaluate(detector, photos, expected, captioners):
    """Detector and caption figures for one set of photos (name -> uint8 array)."""
    from tasks.captioning.photo_detector import template_caption
    from tasks.captioning.photo_eval import caption_scores

    found, times = {}, []
    for name, photo in photos.items():
        detector(photo)  # a new photo size traces once; time the warm call
        start = time.perf_counter()
        found[name] = detector(photo)
        times.append(time.perf_counter() - start)
    with_object = [n for n in expected if expected[n]]
    result = {"photos_with_object": len(with_object),
              "photos_without_object": len(expected) - len(with_object),
              "latency_ms_p50": round(1000 * float(np.median(times)), 1), "by_threshold": {}}
    for threshold in THRESHOLDS:
        kept = {n: [d for d in found[n] if d["score"] >= threshold] for n in found}
        right = sum(bool(kept[n]) and kept[n][0]["label"] in expected[n] for n in with_object)
        false = sum(bool(kept[n]) for n in expected if not expected[n])
        result["by_threshold"][str(threshold)] = {"main_object_right": right, "false_claims": false}
    names = list(photos)
    captions = {label: dict(zip(names, caption([photos[n] for n in names])))
                for label, caption in captioners.items()}
    captions[f"detector + template in Python (score >= {CAPTION_THRESHOLD})"] = {
        n: template_caption([d for d in found[n] if d["score"] >= CAPTION_THRESHOLD]) for n in names}
    result["captions"] = {label: caption_scores(c, expected) for label, c in captions.items()}
    result["detections"] = {n: [f"{d['label']} {d['score']:.2f}" for d in found[n]]
                            for n in names if found[n]}
    return result


def captioners():
    """The bundled captioners side by side: name -> (list of uint8 photos -> captions)."""
    import pipelines

    return {"photo_objects_ssd (bundled default: detector + template sentence in the graph)":
            lambda photos: pipelines.caption(photos, model="photo_objects_ssd"),
            "emoji_scenes_transformer (trained captioner, the default before)":
            lambda photos: pipelines.caption(photos, model="emoji_scenes_transformer")}


def main(argv=None):
    from tasks.captioning.photo_detector import PhotoDetector
    from tasks.captioning.photo_eval import (gcompris_photos, skimage_photos, sklearn_photos,
                                             stamp_photos, wallpaper_photos)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default=os.path.join(ROOT, "data", "photo", "oidv4_ssd"))
    parser.add_argument("--root", default=os.path.join(ROOT, "data", "photo"),
                        help="cache for the Debian packages of the photos")
    args = parser.parse_args(argv)
    detector = PhotoDetector.load(args.detector, score_threshold=min(THRESHOLDS))
    sets = {}
    for name, photos in (("scikit-image", skimage_photos()), ("scikit-learn", sklearn_photos()),
                         ("gcompris", gcompris_photos(args.root)),
                         ("wallpapers", wallpaper_photos(args.root)),
                         ("stamps", stamp_photos(args.root))):
        photos = list(photos)
        sets[name] = ({p: x for p, x, _ in photos}, {p: list(c) for p, _, c in photos})
    print(json.dumps({name: _evaluate(detector, photos, expected, captioners())
                      for name, (photos, expected) in sets.items()}, indent=1))


if __name__ == "__main__":
    main()
