"""gaussian estimators (being written)."""
