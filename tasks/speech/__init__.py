"""Speech data: readers and augmentation building blocks (the CTC model is a later issue)."""
