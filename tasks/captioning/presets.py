"""Captioning presets: named configs, and the bundled default model."""

import os

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")

presets = {
    # Trained by tools/train_default_captioner.py on emoji scenes (the default until #13).
    "emoji_scenes_transformer": {"path": os.path.join(WEIGHTS_DIR, "emoji_scenes_transformer"),
                                 "description": "small CNN + Transformer decoder, emoji scenes"},
    # Architectures without weights, for training on your own data.
    "transformer_small": {"description": "small CNN + 2-layer Transformer decoder",
                          "config": {"decoder": "transformer",
                                     "decoder_options": {"hidden_dim": 192, "num_layers": 2}}},
    "show_and_tell_lstm": {"description": "Show-and-Tell LSTM decoder", "config": {"decoder": "lstm", "decoder_options": {"hidden_dim": 256}}},
    "show_and_tell_gru": {"description": "Show-and-Tell GRU decoder", "config": {"decoder": "gru", "decoder_options": {"hidden_dim": 256}}},
}

# Bundled models of PhotoCaptioningTask (tasks/captioning/photo_task.py), built by
# tools/build_photo_captioner.py from the npm package @mediapipe/objectron.
photo_presets = {
    "photo_objects_ssd": {"path": os.path.join(WEIGHTS_DIR, "photo_objects_ssd"),
                          "description": "real photos: Open Images SSD-MobileNetV2 (23 objects) "
                                         "+ a sentence naming them, or 'a photo'"},
}
# the default of pipelines.caption: it measures better on real photos (README, #13)
DEFAULT_PRESET = "photo_objects_ssd"
