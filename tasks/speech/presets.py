"""Speech presets: named configs, and the bundled default recognizer."""

import os

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")

# The architecture the bundled default was trained from scratch with: DeepSpeech2-like, sized
# for 2-core CPU training (the bundled weights were widened to 256 units later: --widen).
DEFAULT_ARCHITECTURE = {"architecture": "bigru",
                        "options": {"units": 192, "num_layers": 3, "projection": 192}}

presets = {
    # The bundled default: Whisper tiny.en's pretrained encoder (its top block fine-tuned, the
    # rest frozen) + a BiGRU-192 head trained by tools/train_whisper_speech.py on the built-in
    # corpus, with its word LM.
    "speech_en_whisper": {"path": os.path.join(WEIGHTS_DIR, "speech_en_whisper"),
                          "description": "English, Whisper tiny.en encoder + BiGRU-192, CTC "
                                         "characters, word trigram LM"},
    # The earlier default, trained from scratch by tools/train_default_speech.py: 1.6x as
    # fast, better on the corpus's synthetic voices, worse on natural and human ones.
    "speech_en_bigru": {"path": os.path.join(WEIGHTS_DIR, "speech_en_bigru"),
                        "description": "English, conv + 3x BiGRU-256, CTC characters"},
    # Architectures without weights, for training on your own data.
    "bigru": {"description": "DeepSpeech2-like: conv subsampling + 3x BiGRU-256", "config": {"architecture": "bigru",
                         "options": {"units": 256, "num_layers": 3, "projection": 256}}},
    "bigru_small": {"description": "conv subsampling + 2x BiGRU-128", "config": {"architecture": "bigru",
                               "options": {"units": 128, "num_layers": 2, "projection": 128}}},
    # Whisper tiny.en's pretrained encoder (frozen) + one BiGRU-192 layer; it needs
    # encoder_weights=whisper.fetch_whisper_tiny_en(cache) to start from the real weights.
    "whisper_tiny_bigru": {"description": "Whisper tiny.en encoder (pretrained, frozen) + BiGRU-192",
                           "config": {"features": "whisper", "architecture": "whisper_bigru",
                                      "options": {"units": 192, "num_layers": 1,
                                                  "trainable_blocks": 0}}},
    "conformer_small": {"description": "conv subsampling + 4 Conformer blocks (dim 144)", "config": {"architecture": "conformer",
                                   "options": {"dim": 144, "num_layers": 4, "heads": 4}}},
}
DEFAULT_PRESET = "speech_en_whisper"
