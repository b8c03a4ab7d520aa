"""Translation data: readers and the built-in English->French corpus (model: a later issue)."""
