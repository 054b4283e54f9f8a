"""kde estimators (being written)."""
