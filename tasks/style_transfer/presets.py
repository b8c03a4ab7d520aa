"""Style-transfer presets: the bundled fast networks (one per style) and architectures."""

import os

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")

# Bundled fast networks, trained by tools/train_default_styles.py on the built-in data.
BUNDLED_STYLES = {
    "great_wave": "great_wave_off_kanagawa",
    "cafe_terrace": "van_gogh_cafe_terrace_at_night",
    "composition_viii": "composition_viii",
}

presets = {
    name: {"path": os.path.join(WEIGHTS_DIR, name),
           "description": f"fast network for the painting '{painting}'"}
    for name, painting in BUNDLED_STYLES.items()
}
presets.update({
    # Architectures without weights, for training on your own style image.
    "fast_small": {"description": "16/32/64 filters, 5 separable residual blocks (the default)",
                   "config": {}},
    "johnson": {"description": "Johnson et al.'s 32/64/128 filters, 5 full residual blocks, 9x9 edges",
                "config": {"filters": [32, 64, 128], "residual_blocks": 5, "separable": False,
                           "edge_kernel": 9}},
    "slim": {"description": "64/32 filters, 3 separable residual blocks at 1/4 resolution "
                            "(about 3.3x the bundled networks' speed); train it from a teacher",
             "config": {"architecture": "slim", "slim_widths": [64, 32], "residual_blocks": 3,
                        "block_norms": 1}},
    "fast_adain": {"description": "the arbitrary network's encoder and decoder with one painting "
                                  "built in, started from the bundled arbitrary network",
                   "config": {"architecture": "adain"}},
})
DEFAULT_PRESET = "great_wave"

# Slim networks distilled from the bundled ones (tools/train_default_styles.py --preset slim):
# "<name>_slim", about 4x faster, further from Gatys' loss (weights/README.md).
SLIM_DIR = os.path.join(WEIGHTS_DIR, "slim")
SLIM_STYLES = ("great_wave", "composition_viii", "cafe_terrace")
presets.update({
    f"{name}_slim": {"path": os.path.join(SLIM_DIR, name),
                     "description": f"slim network for the painting '{painting}', distilled from "
                                    f"'{name}' (faster, less faithful)"}
    for name, painting in BUNDLED_STYLES.items() if name in SLIM_STYLES
})

# The arbitrary-style (AdaIN) network: one for every style image, trained by
# tools/train_default_arbitrary.py on the built-in paintings.
ARBITRARY_DIR = os.path.join(WEIGHTS_DIR, "arbitrary")
arbitrary_presets = {
    "arbitrary": {"path": ARBITRARY_DIR,
                  "description": "AdaIN network for any style image (bundled weights)"},
    "adain_small": {"description": "decoder widths 32/64/96 over the MobileNetV2 encoder",
                    "config": {}},
}
