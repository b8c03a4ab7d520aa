"""Object glyphs for the built-in captioning benchmark.

The benchmark draws its objects from Noto Color Emoji (SIL Open Font License 1.1).
The glyphs are rendered once into a small RGBA sprite atlas that ships with the
package (``assets/glyphs.png`` + ``assets/glyphs.json``), so building the benchmark
needs no font at run time. ``render_atlas()`` regenerates the atlas from the font
(Debian package ``fonts-noto-color-emoji``).

Each object's caption word comes from its Unicode/CLDR name: the last word of
``unicodedata.name(ch)`` lower-cased (``DECIDUOUS TREE`` -> ``tree``), with the
few overrides in ``WORD_OVERRIDES``.

Example:
    >>> atlas = load_atlas()
    >>> atlas.words[:3]
    ['dog', 'cat', 'horse']
"""

import dataclasses
import json
import os
import unicodedata

import numpy as np
from PIL import Image

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
DEFAULT_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"

# The characters the benchmark draws, in a fixed order (the order is part of the
# dataset definition: changing it changes every generated scene).
CHARACTERS = (
    "\U0001F415",  # DOG
    "\U0001F408",  # CAT
    "\U0001F40E",  # HORSE
    "\U0001F426",  # BIRD
    "\U0001F41F",  # FISH
    "\U0001F422",  # TURTLE
    "\U0001F697",  # AUTOMOBILE
    "\U0001F6B2",  # BICYCLE
    "\U0001F68C",  # BUS
    "\U0001F333",  # DECIDUOUS TREE
    "\U0001F34E",  # RED APPLE
    "\U0001F3E0",  # HOUSE BUILDING
    "\u26BD",      # SOCCER BALL
    "\U0001F3B8",  # GUITAR
    "\U0001F302",  # CLOSED UMBRELLA
    "\U0001FA91",  # CHAIR
)
WORD_OVERRIDES = {"AUTOMOBILE": "car"}
PLURAL_OVERRIDES = {"bus": "buses", "fish": "fish"}
CELL = 136  # atlas cell size in pixels; Noto renders bitmaps at size 109


def caption_word(character):
    """Caption word for an emoji character, derived from its Unicode name."""
    name = unicodedata.name(character)
    return WORD_OVERRIDES.get(name, name.split()[-1].lower())


def plural(word):
    """English plural of a caption word."""
    return PLURAL_OVERRIDES.get(word, word + "s")


@dataclasses.dataclass
class GlyphAtlas:
    """RGBA sprites (one per object, alpha-cropped) and their names."""

    sprites: list  # list of uint8 arrays [h, w, 4]
    words: list
    unicode_names: list


def render_atlas(font_path=DEFAULT_FONT, out_dir=ASSETS):
    """Render ``CHARACTERS`` with Pillow into ``out_dir/glyphs.{png,json}``."""
    from PIL import ImageDraw, ImageFont

    if not os.path.exists(font_path):
        raise ValueError(
            f"font_path={font_path!r} does not exist; install Debian's "
            "fonts-noto-color-emoji or pass the path of NotoColorEmoji.ttf"
        )
    font = ImageFont.truetype(font_path, 109)
    atlas = Image.new("RGBA", (CELL * len(CHARACTERS), CELL), (0, 0, 0, 0))
    boxes = []
    for i, ch in enumerate(CHARACTERS):
        cell = Image.new("RGBA", (CELL, CELL), (0, 0, 0, 0))
        ImageDraw.Draw(cell).text((4, 4), ch, font=font, embedded_color=True)
        box = cell.getbbox()
        if box is None:
            raise ValueError(f"the font at {font_path!r} has no glyph for {unicodedata.name(ch)}")
        atlas.paste(cell, (i * CELL, 0))
        boxes.append([i * CELL + box[0], box[1], i * CELL + box[2], box[3]])
    os.makedirs(out_dir, exist_ok=True)
    atlas.save(os.path.join(out_dir, "glyphs.png"), optimize=True)
    meta = {
        "font": os.path.basename(font_path),
        "license": "SIL Open Font License 1.1 (Noto Color Emoji)",
        "characters": [f"U+{ord(c):04X}" for c in CHARACTERS],
        "unicode_names": [unicodedata.name(c) for c in CHARACTERS],
        "words": [caption_word(c) for c in CHARACTERS],
        "boxes": boxes,
    }
    with open(os.path.join(out_dir, "glyphs.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return out_dir


def load_atlas(directory=ASSETS):
    """Load the bundled sprite atlas."""
    with open(os.path.join(directory, "glyphs.json")) as f:
        meta = json.load(f)
    sheet = np.asarray(Image.open(os.path.join(directory, "glyphs.png")).convert("RGBA"))
    sprites = [sheet[y0:y1, x0:x1].copy() for x0, y0, x1, y1 in meta["boxes"]]
    return GlyphAtlas(sprites=sprites, words=meta["words"], unicode_names=meta["unicode_names"])


if __name__ == "__main__":
    print(render_atlas())
