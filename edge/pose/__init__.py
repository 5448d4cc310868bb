"""Pose estimation: Frame → [Pose]. One file per model family, plus the TFLite runtime shim."""
