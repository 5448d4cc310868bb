"""Measuring the safety rules on labelled real footage: the fall-clip catalogue and its folds, a cache of
per-track keypoint sequences (the estimator runs once per clip), the hard-case variants of a sequence
(5 fps, track loss, occlusion, camera bumps, freezes, shot cuts) and the replay of cached sequences
through the rules engine. Used by `models/fall/train.py` (training, evaluation) and the tests."""
