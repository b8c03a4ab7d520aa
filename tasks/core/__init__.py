"""Shared core: Task base, preprocessing layers, decoding, training, export, metrics."""
