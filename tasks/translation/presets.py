"""Translation presets: named architectures (and, once trained, the bundled default)."""

import os

WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")

presets = {
    # The bundled default: trained by tools/train_default_translator.py on the built-in corpus.
    "debian_en_fr_transformer": {"path": os.path.join(WEIGHTS_DIR, "debian_en_fr_transformer"),
                                 "description": "Transformer, English->French software strings"},
    # Architectures without weights, for training on your own data.
    "transformer": {"description": "Transformer encoder-decoder, 3+3 layers, width 256",
                    "config": {"architecture": "transformer",
                               "options": {"hidden_dim": 256, "encoder_layers": 3,
                                           "decoder_layers": 3, "num_heads": 4,
                                           "intermediate_dim": 1024}}},
    "transformer_small": {"description": "Transformer encoder-decoder, 2+2 layers, width 128",
                          "config": {"architecture": "transformer",
                                     "options": {"hidden_dim": 128, "encoder_layers": 2,
                                                 "decoder_layers": 2, "num_heads": 4,
                                                 "intermediate_dim": 512}}},
    "rnn_gru": {"description": "BiGRU encoder, GRU decoder, Luong attention, width 256",
                "config": {"architecture": "rnn", "options": {"hidden_dim": 256, "cell": "gru"}}},
    "rnn_lstm": {"description": "BiLSTM encoder, LSTM decoder, Luong attention, width 256",
                 "config": {"architecture": "rnn", "options": {"hidden_dim": 256, "cell": "lstm"}}},
}
DEFAULT_PRESET = "transformer"
