"""Video presets: named architectures (and, once trained, the bundled default)."""

import os

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")

presets = {
    # The bundled default: trained by tools/train_default_video.py on the emoji-events benchmark.
    "emoji_events_bigru": {"path": os.path.join(WEIGHTS_DIR, "emoji_events_bigru"),
                           "description": "small CNN + BiGRU + attention GRU captioner, emoji events"},
    # Architectures without weights, for training on your own data.
    "bigru": {"description": "small CNN per frame, BiGRU over time, GRU caption decoder",
              "config": {"temporal": "bigru", "temporal_options": {"hidden_dim": 192}}},
    "temporal_transformer": {"description": "small CNN per frame, 2-block Transformer over time",
                             "config": {"temporal": "transformer",
                                        "temporal_options": {"hidden_dim": 192, "num_layers": 2}}},
}
DEFAULT_PRESET = "emoji_events_bigru"
