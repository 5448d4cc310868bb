"""The daemon (`edge-pose run`): one process, three kinds of thread.

    capture thread ──(one-slot latest frame)──▶ main loop ──▶ publisher (paho's network thread)
                                     estimate (the estimator tracks, filters) → rules → messages

The main loop also tells systemd how it is doing: READY=1 once the model is loaded and the first
frame processed, STATUS= with fps/camera/broker state, and (through the watchdog thread) WATCHDOG=1
only while frames progress. SIGTERM/SIGINT: stop capture, flush what the publisher can, keep the
rest in the outbox, publish `stopped`, exit 0 — well within systemd's stop timeout."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType

from edge import __version__
from edge.capture.camera import Backoff, Camera
from edge.capture.latest_frame import LatestFrame
from edge.capture.open_source import open_source
from edge.config import LoadedConfig, tls_settings
from edge.errors import ConfigError
from edge.pipeline import Pipeline
from edge.pose.manifest import ModelSpec
from edge.pose.multi_person import FrontEndStats
from edge.pose.output_guard import OutputStats
from edge.pose.registry import PoseEstimator, create_estimator
from edge.pose.smart_crop import CropBox
from edge.preview.stage import PreviewStage
from edge.publish.messages import Message, restart_end
from edge.publish.mqtt import MqttPublisher, MqttSettings
from edge.publish.outbox import OutboxError
from edge.publish.stats import StatsSnapshot, read_cpu_temp_c, stats_message
from edge.rules.engine import RulesEngine
from edge.service.metrics import FrameMetrics
from edge.service.notify import Notifier, watchdog_interval_s
from edge.service.watchdog import Watchdog
from edge.types import Frame, Pose

logger = logging.getLogger(__name__)

FRAME_WAIT_S = 0.2  # the main loop wakes at least this often (signals, status, health)
CAPTURE_STOP_S = 1.0  # of the 5 s stop budget: capture thread join
PUBLISH_CLOSE_S = 3.0  # of the 5 s stop budget: flush + `stopped` + disconnect
FILE_WAIT_FOR_BROKER_S = 30.0  # a non-realtime file waits this long for the broker before it plays


class TimedEstimator:
    """Wraps an estimator to time each `estimate` call (inference incl. crop and decode)."""

    def __init__(self, inner: PoseEstimator) -> None:
        self.inner = inner
        self.last_ms = 0.0

    @property
    def name(self) -> str:
        """The model in use (may change when a fallback takes over)."""
        return self.inner.name

    @property
    def spec(self) -> ModelSpec:
        """The model's manifest entry."""
        return self.inner.spec

    @property
    def stats(self) -> OutputStats:
        """Invoke and invalid-output counters."""
        return self.inner.stats

    @property
    def last_regions(self) -> list[CropBox]:
        """Where the model looked on the last frame."""
        return self.inner.last_regions

    def estimate(self, frame: Frame) -> list[Pose]:
        """Run the model, timing it."""
        t0 = time.perf_counter()
        poses = self.inner.estimate(frame)
        self.last_ms = (time.perf_counter() - t0) * 1000
        return poses

    def reset(self) -> None:
        """Forget per-person state."""
        self.inner.reset()


@dataclass
class NullPublisher:
    """Stands in for MQTT when `mqtt.enabled: false` (a dry run): drops every message."""

    connected: bool = False
    outbox_depth: int = 0

    def start(self) -> None:
        """Nothing to connect."""

    def publish(self, message: Message) -> None:
        """Drop the message."""

    def close(self, timeout_s: float = 0.0) -> None:
        """Nothing to flush."""


def mqtt_settings(loaded: LoadedConfig) -> MqttSettings:
    """The publisher's settings: the `mqtt:`, `outbox:` and `snapshots:` sections as they are, and the
    secrets read."""
    config, secrets = loaded.config, loaded.secrets
    return MqttSettings(
        device=config.device.id,
        mqtt=config.mqtt,
        outbox=config.outbox,
        username=secrets.mqtt_username,
        password=secrets.mqtt_password,
        tls=tls_settings(config, secrets),
        snapshots=config.snapshots,
    )


class Daemon:
    """Owns the threads and the state of one `edge-pose run`."""

    def __init__(self, loaded: LoadedConfig, notifier: Notifier | None = None) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.notifier = notifier or Notifier()
        self.metrics = FrameMetrics()
        self.buffer = LatestFrame()
        self.stop_event = threading.Event()
        self.loop_heartbeat = time.monotonic()
        self.ready_after_s: float | None = None
        self.camera: Camera | None = None
        self.publisher: MqttPublisher | NullPublisher | None = None
        self.preview: PreviewStage | None = None  # the live view and event snapshots (edge/preview/)
        self._stop_reason = ""
        self.watchdog_interval_s = watchdog_interval_s()
        # A main loop that has not turned for this long is stuck. Under the watchdog: half its interval,
        # so the pings (every half interval) stop within one interval of the hang; a frame takes far less.
        interval = self.watchdog_interval_s
        self.loop_limit_s = interval / 2 if interval is not None else self.config.camera.stall_timeout_s

    # --- signals -------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.stop_event.is_set():
            logger.info("%s received: stopping", name)
            self._stop_reason = name
        self.stop_event.set()
        self.buffer.close()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the daemon cleanly; SIGHUP is logged and ignored (restart to reload)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(
            signal.SIGHUP, lambda s, f: logger.warning("SIGHUP ignored: restart the service to reload")
        )

    # --- health --------------------------------------------------------------------------------

    def healthy(self) -> tuple[bool, str]:
        """Whether the watchdog may be fed: the main loop turns, and frames flow or the capture thread
        is busy reopening the camera (alive, not hung in a driver call)."""
        now = time.monotonic()
        limit = self.config.camera.stall_timeout_s
        loop_age = now - self.loop_heartbeat
        if loop_age > self.loop_limit_s:
            return False, f"main loop stuck for {loop_age:.1f} s"
        last = self.metrics.last_frame_mono
        if last is not None and now - last <= limit:
            return True, "frames flowing"
        camera = self.camera
        if camera is None:
            return False, "no camera"
        capture_age = now - camera.heartbeat_mono
        if camera.state in ("reconnecting", "starting") and capture_age <= limit and camera.alive:
            return True, f"camera {camera.state}"
        since = f"{now - last:.1f} s" if last is not None else "start"
        return (
            False,
            f"no frame since {since} (camera {camera.state}, capture thread idle {capture_age:.1f} s)",
        )

    def status_line(self) -> str:
        """One line for systemd's STATUS= and the log."""
        camera = self.camera.state if self.camera else "starting"
        publisher = self.publisher
        if not self.config.mqtt.enabled or publisher is None:
            broker = "mqtt off"
        else:
            broker = "mqtt connected" if publisher.connected else "mqtt disconnected"
            broker += f", outbox {publisher.outbox_depth}"
        return f"{self.metrics.fps():.1f} fps, camera {camera}, {broker}, {self.metrics.frames} frames"

    def stats_snapshot(self, estimator: TimedEstimator) -> StatsSnapshot:
        """Figures for the stats message."""
        front_end = getattr(estimator.inner, "front_end", None)
        inf50, inf95 = self.metrics.inference_ms()
        pipe50, pipe95 = self.metrics.pipeline_ms()
        return StatsSnapshot(
            fps=self.metrics.fps(),
            inference_ms_p50=inf50,
            inference_ms_p95=inf95,
            pipeline_ms_p50=pipe50,
            pipeline_ms_p95=pipe95,
            frames=self.metrics.frames,
            frames_dropped=self.buffer.dropped,
            model=estimator.name,
            outbox_depth=self.publisher.outbox_depth if self.publisher else 0,
            uptime_s=self.metrics.uptime_s,
            cpu_temp_c=read_cpu_temp_c(),
            camera_state=self.camera.state if self.camera else "starting",
            invalid_outputs=estimator.stats.invalid_outputs,
            version=__version__,
            **(self.preview.stats_fields() if self.preview is not None else {}),
            front_end=front_end.as_dict() if isinstance(front_end, FrontEndStats) else None,
        )

    # --- the run -------------------------------------------------------------------------------

    def _load_estimator(self) -> TimedEstimator:
        m = self.config.model
        self.notifier.status(f"loading model {m.name}")
        estimator = create_estimator(
            m.name,
            threads=m.threads,
            model_dir=m.directory,
            pose=self.config.pose,
            fallback=m.fallback,
        )
        logger.info("model %s loaded (%s, %d threads)", estimator.name, estimator.spec.path, m.threads)
        return TimedEstimator(estimator)

    def _make_publisher(self) -> MqttPublisher | NullPublisher:
        """The MQTT publisher (or the dry-run stand-in); a problem with what the config names (the
        outbox file, the TLS files) exits 78 naming the key, like every config problem."""
        if not self.config.mqtt.enabled:
            return NullPublisher()
        try:
            return MqttPublisher(mqtt_settings(self.loaded), healthy=lambda: self.healthy()[0])
        except OutboxError as exc:
            raise ConfigError(f"{self.loaded.path}: outbox.path: {exc}") from None
        except ConfigError as exc:
            raise ConfigError(f"{self.loaded.path}: {exc}") from None

    def _wait_for_broker_before_a_file(self) -> None:
        """A `file:` source with `realtime: false` is played as fast as the model goes, once, to give
        the same messages as replay; pose messages are live data, dropped while the broker is not
        connected, so such a file starts only once the broker is (up to FILE_WAIT_FOR_BROKER_S)."""
        c = self.config.camera
        publisher = self.publisher
        if c.uri.kind != "file" or c.realtime or not isinstance(publisher, MqttPublisher):
            return
        deadline = time.monotonic() + FILE_WAIT_FOR_BROKER_S
        logger.info("realtime: false: waiting for the broker before playing %s", c.uri.target)
        while not publisher.connected and not self.stop_event.is_set():
            if time.monotonic() >= deadline:
                logger.warning("no broker after %.0f s: playing the file anyway", FILE_WAIT_FOR_BROKER_S)
                return
            self.stop_event.wait(FRAME_WAIT_S)

    def _end_interrupted_events(self) -> None:
        """End the events a previous run left open (killed, crashed, power cut), with details.reason
        "restart", before anything else is published: the event stream and the alarm topics (all OFF
        after a start) then agree."""
        if not isinstance(self.publisher, MqttPublisher):
            return
        for message in self.publisher.open_events():
            end = restart_end(message)
            logger.warning(
                "event %s (%s, track %s) was left open by the previous run: ended (reason restart)",
                end.payload.get("id"),
                end.payload.get("type"),
                end.payload.get("track_id"),
            )
            self.publisher.publish(end)

    def _make_camera(self, estimator: TimedEstimator) -> Camera:
        c = self.config.camera
        uri = c.uri
        source = open_source(
            uri,
            model_input=min(estimator.spec.input_size),
            loop=c.loop,
            realtime=c.realtime,
            width=c.width,
            height=c.height,
            fps=c.fps,
            rtsp_transport=c.rtsp_transport,
            timeout_s=c.stall_timeout_s,
        )
        return Camera(
            source,
            self.buffer,
            Backoff(c.reopen_min_s, c.reopen_max_s),
            wait_for_consumer=uri.kind == "file" and not c.realtime,
            # a file is named by its path, as replay names it; a camera by its URI (password masked)
            source_name=uri.target if uri.kind == "file" else uri.redacted,
        )

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or the end of a non-looping file); returns the exit code."""
        started = time.monotonic()
        estimator = self._load_estimator()
        pipeline = Pipeline(
            estimator,
            device=self.config.device.id,
            topic_prefix=self.config.mqtt.topic_prefix,
            rules=RulesEngine(self.config.rules, model_dir=self.config.model.directory),
        )
        self.publisher = self._make_publisher()
        self._end_interrupted_events()
        self.camera = self._make_camera(estimator)
        if self.stop_event.is_set():
            return self._shutdown(estimator)
        if self.config.preview.enabled or self.config.snapshots.enabled:
            self.preview = PreviewStage(self.loaded, pipeline, self.publisher)
            self.preview.start()
        self.publisher.start()
        self._wait_for_broker_before_a_file()
        self.camera.start()
        logger.info("capturing from %s", self.camera.source_name)
        watchdog: Watchdog | None = None
        interval = self.watchdog_interval_s
        last_status = last_stats = time.monotonic()
        while not self.stop_event.is_set():
            self.loop_heartbeat = time.monotonic()
            frame = self.buffer.get(FRAME_WAIT_S)
            self.loop_heartbeat = now = time.monotonic()
            if frame is None:
                if self.buffer.closed and not self.stop_event.is_set():
                    logger.info("source ended: stopping")
                    self._stop_reason = "end of file"
                    break
            else:
                t0 = time.perf_counter()
                result = pipeline.process(frame)
                for message in result.messages:
                    self.publisher.publish(message)
                if self.preview is not None:
                    for message in self.preview.after_frame(result):
                        self.publisher.publish(message)
                self.metrics.record(estimator.last_ms, (time.perf_counter() - t0) * 1000)
                if self.ready_after_s is None:
                    self.ready_after_s = time.monotonic() - started
                    self.notifier.ready(self.status_line())
                    logger.info(
                        "ready: model loaded and first frame processed %.2f s after start", self.ready_after_s
                    )
                    if interval is not None:
                        watchdog = Watchdog(self.notifier, interval, self.healthy)
                        watchdog.start()
            if self.preview is not None:
                self.preview.tick(lambda: self.stats_snapshot(estimator))
            if now - last_status >= self.config.service.status_interval_s:
                last_status = now
                self.notifier.status(self.status_line())
                logger.debug("%s", self.status_line())
            if now - last_stats >= self.config.mqtt.stats_interval_s:
                last_stats = now
                snapshot = self.stats_snapshot(estimator)
                self.publisher.publish(
                    stats_message(self.config.mqtt.topic_prefix, self.config.device.id, snapshot)
                )
                logger.info("%s", self.status_line())
        if watchdog is not None:
            watchdog.stop()
        reason = "end_of_input" if self._stop_reason == "end of file" else "shutdown"
        for message in pipeline.finish(reason):  # open events end (and reach the outbox) before we stop
            self.publisher.publish(message)
        if self.preview is not None:
            for message in self.preview.close():  # snapshots rendered in time go out like the events
                self.publisher.publish(message)
        return self._shutdown(estimator)

    def _shutdown(self, estimator: TimedEstimator) -> int:
        t0 = time.monotonic()
        self.notifier.stopping(f"stopping ({self._stop_reason or 'requested'})")
        if self.camera is not None:
            self.camera.stop(CAPTURE_STOP_S)
        if self.publisher is not None:
            self.publisher.close(PUBLISH_CLOSE_S)
        logger.info(
            "stopped in %.2f s: %d frames processed, %d dropped by the latest-frame buffer, model %s",
            time.monotonic() - t0,
            self.metrics.frames,
            self.buffer.dropped,
            estimator.name,
        )
        self.notifier.close()
        return 0
