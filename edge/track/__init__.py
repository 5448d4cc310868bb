"""Tracking: stable ids for people across frames."""
