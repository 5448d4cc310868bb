"""The per-frame pipeline shared by replay, the daemon and the benchmark:
frame → poses (estimate, track, filter) → messages. Data flows one way; each stage owns its state."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.pose.registry import PoseEstimator
from edge.publish.messages import DEFAULT_TOPIC_PREFIX, Message, pose_message
from edge.types import Frame, Pose


@dataclass(slots=True)
class FrameResult:
    """What one frame produced: the poses and the messages to publish, in order."""

    frame: Frame
    poses: list[Pose]
    messages: list[Message] = field(default_factory=list)


class Pipeline:
    """Runs one frame through every stage and builds the messages the daemon would publish."""

    def __init__(
        self, estimator: PoseEstimator, device: str, topic_prefix: str = DEFAULT_TOPIC_PREFIX
    ) -> None:
        self.estimator = estimator
        self.device = device
        self.topic_prefix = topic_prefix

    def reset(self) -> None:
        """Forget all per-person state (a new source or a still image)."""
        self.estimator.reset()

    def process(self, frame: Frame) -> FrameResult:
        """Estimate poses in `frame` and build its messages."""
        poses = self.estimator.estimate(frame)
        message = pose_message(frame, poses, self.estimator.name, self.device, self.topic_prefix)
        return FrameResult(frame=frame, poses=poses, messages=[message])
