"""Temporal filters: One Euro on keypoints, exponential low-pass on crop regions."""
