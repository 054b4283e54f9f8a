"""knn estimators (being written)."""
