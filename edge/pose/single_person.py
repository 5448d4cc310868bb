"""The one person a single-pose model follows (MoveNet single-pose, PoseNet, BlazePose): their track id
and the pose reported for them."""

from __future__ import annotations

from dataclasses import dataclass

from edge.types import Keypoints, Pose, keypoint_bbox


@dataclass
class SinglePersonId:
    """A single-pose model's track id: one id while the person stays found, the next one once they are
    lost (the model cannot tell whether the same person comes back), 0 again for a new source."""

    current: int | None = None
    next_id: int = 0

    def pose(self, keypoints: Keypoints, score: float, layout: str, min_box_score: float) -> Pose:
        """The followed person's pose, under their id (a new one after a loss) with their keypoint box."""
        if self.current is None:
            self.current = self.next_id
            self.next_id += 1
        return Pose(
            keypoints=keypoints,
            score=score,
            layout=layout,
            track_id=self.current,
            bbox=keypoint_bbox(keypoints, min_box_score),
        )

    def lose(self) -> None:
        """The person is gone: whoever is found next gets a new id."""
        self.current = None

    def reset(self) -> None:
        """A new source: no person, ids from 0 again."""
        self.current = None
        self.next_id = 0
