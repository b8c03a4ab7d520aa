"""README's style-transfer figure: content | Gatys | fast | slim | arbitrary network.

    python tools/make_style_grid.py                  # docs/images/style_grid.jpg

For each bundled fast style that is installed, the first held-out photographs of the built-in
data (centre squares at ``--size``²) next to Gatys optimisation, the style's fast network,
its slim network (where one is bundled) and the arbitrary network given the same painting;
each panel is titled with its weighted perceptual loss (lower is closer to the objective they
all minimise).
"""

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.path.join(ROOT, "data", "style"))
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "images", "style_grid.jpg"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--photos", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300, help="Gatys steps")
    args = parser.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from tasks.core.task import Task
    from tasks.style_transfer.data import build_style_data, style_images, test_images
    from tasks.style_transfer.evaluation import centre_square
    from tasks.style_transfer.optimize import optimize_image
    from tasks.style_transfer.presets import ARBITRARY_DIR, BUNDLED_STYLES, SLIM_DIR, WEIGHTS_DIR
    from tasks.style_transfer.task import load_style_image

    build_style_data(args.data_dir, progress=False)
    paintings = style_images(args.data_dir)
    arbitrary = Task.load(ARBITRARY_DIR)
    rows = []
    for name, painting in BUNDLED_STYLES.items():
        if not os.path.isfile(os.path.join(WEIGHTS_DIR, name, "task.json")):
            continue
        fast = Task.load(os.path.join(WEIGHTS_DIR, name), style_image=paintings[painting])
        slim_path = os.path.join(SLIM_DIR, name)
        slim = (Task.load(slim_path, style_image=paintings[painting])
                if os.path.isfile(os.path.join(slim_path, "task.json")) else None)
        view = arbitrary.with_style(paintings[painting])
        loss = fast.perceptual_loss()
        for path in test_images(args.data_dir)[:args.photos]:
            content = centre_square(path, args.size)
            panels = [("content", content.numpy()),
                      ("Gatys", optimize_image(content, None, loss.extractor, loss,
                                               steps=args.steps, progress=False).image),
                      (f"fast ({name})", fast.stylize_pixels(content[None]).numpy()[0]),
                      *([("slim", slim.stylize_pixels(content[None]).numpy()[0])] if slim else []),
                      ("arbitrary", view.stylize_pixels(content[None]).numpy()[0])]
            scored = [(title, image, float(loss.total(loss.terms(content[None], image[None]))))
                      for title, image in panels]
            rows.append((load_style_image(paintings[painting], args.size).numpy(), scored))
            print(name, os.path.basename(path), [(t, round(v, 2)) for t, _, v in scored],
                  flush=True)
    columns = 1 + max(len(scored) for _, scored in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(3 * columns, 3.2 * len(rows)),
                             squeeze=False)
    for row, (painting, scored) in zip(axes, rows):
        row[0].imshow(np.clip(painting, 0, 1))
        row[0].set_title("style")
        for ax, (title, image, value) in zip(row[1:], scored):
            ax.imshow(np.clip(image, 0, 1))
            ax.set_title(f"{title}" if title == "content" else f"{title}: loss {value:.2f}")
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    fig.savefig(args.output, dpi=60, pil_kwargs={"quality": 85})
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
