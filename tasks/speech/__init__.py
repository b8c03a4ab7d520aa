"""Speech recognition with CTC: readers, corpus, augmentation, the model, decoding and the
word language model."""
