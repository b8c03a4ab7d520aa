"""Captioning presets: named configs, and the bundled default model."""

import os

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")

presets = {
    # The bundled default: trained by tools/train_default_captioner.py on emoji scenes.
    "emoji_scenes_transformer": {"path": os.path.join(WEIGHTS_DIR, "emoji_scenes_transformer"),
                                 "description": "small CNN + Transformer decoder, emoji scenes"},
    # Architectures without weights, for training on your own data.
    "transformer_small": {"description": "small CNN + 2-layer Transformer decoder",
                          "config": {"decoder": "transformer",
                                     "decoder_options": {"hidden_dim": 192, "num_layers": 2}}},
    "show_and_tell_lstm": {"description": "Show-and-Tell LSTM decoder", "config": {"decoder": "lstm", "decoder_options": {"hidden_dim": 256}}},
    "show_and_tell_gru": {"description": "Show-and-Tell GRU decoder", "config": {"decoder": "gru", "decoder_options": {"hidden_dim": 256}}},
}
DEFAULT_PRESET = "emoji_scenes_transformer"
