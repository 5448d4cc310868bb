"""The per-frame pipeline shared by replay, eval-events, the daemon and the benchmark:
frame → poses (the estimator crops, tracks and filters: edge/pose/ calls edge/track/ and edge/filters/)
→ events (edge/rules/) → messages. Data flows one way; each stage owns its state."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.pose.registry import PoseEstimator
from edge.publish.messages import DEFAULT_TOPIC_PREFIX, Message, event_message, pose_message
from edge.rules.engine import RulesEngine
from edge.rules.event import Event
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
        self,
        estimator: PoseEstimator,
        device: str,
        topic_prefix: str = DEFAULT_TOPIC_PREFIX,
        rules: RulesEngine | None = None,
    ) -> None:
        self.estimator = estimator
        self.device = device
        self.topic_prefix = topic_prefix
        self.rules = rules  # the safety-event stage; None: pose messages only
        self._source = ""

    def reset(self) -> None:
        """Forget all per-person state (a new source or a still image)."""
        self.estimator.reset()
        if self.rules is not None:
            self.rules.reset()

    def finish(self, reason: str = "end_of_input") -> list[Message]:
        """End the open events of the current source (call before `reset()` at the end of an input
        or on shutdown): their `end` messages, `reason` in their details."""
        if self.rules is None:
            return []
        return [self._event(e, self._source) for e in self.rules.finish(reason)]

    def process(self, frame: Frame) -> FrameResult:
        """Estimate poses in `frame` and build its messages: the pose message, then any events. On a
        looped file's `new_pass` the open events of the pass before end first (reason "loop") and
        every per-person state is forgotten, as between two files: the person on the floor at the end
        of a pass is not the one standing at the start of the next."""
        messages: list[Message] = []
        if frame.new_pass:
            messages += self.finish("loop")
            self.reset()
        poses = self.estimator.estimate(frame)
        messages.append(pose_message(frame, poses, self.estimator.name, self.device, self.topic_prefix))
        if self.rules is not None:
            self._source = frame.source
            messages += [self._event(e, frame.source) for e in self.rules.process(frame, poses)]
        return FrameResult(frame=frame, poses=poses, messages=messages)

    def _event(self, event: Event, source: str) -> Message:
        return event_message(event, self.device, source, self.topic_prefix)
