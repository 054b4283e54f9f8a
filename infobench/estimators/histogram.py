"""histogram estimators (being written)."""
