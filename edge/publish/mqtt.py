"""The MQTT publisher: hands messages to a broker without ever blocking the frame loop, and loses no
event while the broker is away or the daemon restarts.

Threads: the frame loop calls `publish` (poses and stats go straight to paho's send queue; an event
is one SQLite INSERT into the outbox); paho's network thread connects, reconnects with back-off and
runs the callbacks; the outbox thread sends the outbox backlog in order (QoS 1) and deletes rows the
broker acknowledged. The outbox is the only copy that counts: after every (re)connect paho's own
in-memory queue is dropped and the backlog is resent from the oldest unacknowledged row, so the
order on the wire is always the outbox order (duplicates are possible, losses and reordering are not).

Availability cannot lie: `status` is retained `online` after every accepted connect, `stopped` on a
clean close and `offline` as the will; with MQTT 5 the retained `online` (and the retained alarm values)
carry a message expiry of 1.5 keepalives and are refreshed every half keepalive while the process is
connected and healthy, so a camera that died where no will could fire (the broker was down at the time)
shows nothing once it expires, even on a broker restored from its persistence file. Every open event is
recorded in the outbox file, so a restarted daemon can end the events a crash left open.

Topics under `<prefix>/<device>/`: `status`, `pose`, `event`, `event/snapshot` (through the outbox like
events, bounded apart), `stats`, `alarm/<type>`; see docs/mqtt.md."""

from __future__ import annotations

import json
import logging
import math
import queue
import sqlite3
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge import __version__
from edge.errors import ConfigError
from edge.publish.alarm_state import AlarmState
from edge.publish.ha_discovery import discovery_messages, removal_messages
from edge.publish.messages import Message, topic
from edge.publish.outbox import Outbox
from edge.publish.pose_gate import PoseGate
from edge.publish.settings import MqttConfig, OutboxConfig, SnapshotConfig

logger = logging.getLogger(__name__)

STATUS_ONLINE = "online"
STATUS_STOPPED = "stopped"
STATUS_OFFLINE = "offline"  # the MQTT will: the broker publishes it when the connection dies
STATUS_QOS = 1
STATUS_EXPIRY_KEEPALIVES = 1.5  # a retained `online` expires this long after its last refresh (MQTT 5)
STATUS_REFRESH_KEEPALIVES = 0.5  # `online` and the alarm values are re-published this often
EVENT_QOS = 1
EVENT_WINDOW = 100  # outbox rows sent but not yet acknowledged at any time (paho sends 20 at once)
OUTBOX_IDLE_S = 1.0  # the outbox thread wakes at least this often (pruning, missed wake-ups)
OUTBOX_PRUNE_INTERVAL_S = 10.0  # how often the size/age bounds are applied
OUTBOX_SYNC_INTERVAL_S = 1.0  # new outbox rows are fsynced (power-cut safe) within about this long
CLOSE_POLL_S = 0.05
# CONNACK reason codes that mean the credentials or the ACL are wrong (MQTT 5: 0x86, 0x87; paho maps
# MQTT 3.1.1 return codes 4 and 5 onto the same values).
_AUTH_CODES = {0x86, 0x87}
_AUTH_HINT = " (check mqtt.username_file / mqtt.password_file and the broker's password file)"


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS to the broker: the CA that signed its certificate, optionally a client certificate.
    `insecure` skips the host name check (never the chain check)."""

    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """What the publisher runs with: the config's `mqtt:` and `outbox:` sections (whose defaults are the
    only defaults, edge/publish/settings.py), the device id, the secrets already read from their files
    (the user name and password, the TLS files resolved in the credentials directory), and the
    `snapshots:` section (its `max_queued` bounds the snapshot rows in the outbox)."""

    device: str
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr (logs, tracebacks)
    tls: TlsSettings | None = None
    snapshots: SnapshotConfig = field(default_factory=SnapshotConfig)


@dataclass(slots=True)
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    values: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "published",  # messages handed to the broker (events: acknowledged)
                "events_queued",  # events committed to the outbox
                "events_sent",  # outbox rows (events, snapshots) handed to paho (with resends)
                "events_acked",  # outbox rows the broker acknowledged (then deleted from the outbox)
                "events_refused",  # events the broker refused (MQTT 5 PUBACK failure, e.g. ACL)
                "outbox_dropped",  # events dropped by the outbox size/age bounds
                "snapshots_queued",  # event snapshots committed to the outbox
                "snapshots_dropped",  # event snapshots dropped by the outbox bounds (snapshots.max_queued, age)
                "dropped_rate_limited",  # pose messages above pose_max_rate_hz
                "dropped_unchanged",  # pose messages held back by pose_only_changes
                "dropped_disconnected",  # pose/stats/alarm messages while not connected
                "invalid_payloads",  # messages that could not be encoded as JSON or have a bad topic
                "outbox_errors",  # events the outbox could not store (sent directly instead)
                "connects",
                "connect_failures",
            ),
            0,
        )
    )

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.values[name] += n


def encode_payload(message: Message) -> str:
    """The wire form of a message: compact JSON; an empty discovery payload is the empty string (that
    removes a retained Home Assistant entity)."""
    if message.kind == "discovery" and not message.payload:
        return ""
    return json.dumps(message.payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def tls_context(tls: TlsSettings) -> ssl.SSLContext:
    """An SSLContext verifying the broker against `ca_file`, with the client certificate if given;
    ConfigError naming the key when a file is unreadable or not PEM (the config loader calls this too,
    so check-config finds what the publisher would refuse)."""
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file))
    except ssl.SSLError as exc:
        raise ConfigError(
            f"mqtt.tls.ca_file: {tls.ca_file}: not a PEM CA certificate ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"mqtt.tls.ca_file: {tls.ca_file}: {exc.strerror or exc}") from None
    if tls.cert_file is not None:
        try:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file) if tls.key_file else None)
        except ssl.SSLError as exc:
            raise ConfigError(
                f"mqtt.tls.cert_file: {tls.cert_file} with mqtt.tls.key_file {tls.key_file}: not a PEM "
                f"certificate and its matching private key ({exc.reason or exc})"
            ) from None
        except OSError as exc:
            raise ConfigError(f"mqtt.tls.cert_file: {tls.cert_file}: {exc.strerror or exc}") from None
    if tls.insecure:
        context.check_hostname = False
    return context


X509_V_ERR_HOSTNAME_MISMATCH = 62  # OpenSSL's verify code for a certificate issued to another name
X509_V_ERR_IP_ADDRESS_MISMATCH = 64


def _describe_connect_error(exc: BaseException | None, host: str = "") -> str:
    """One readable phrase for a failed TCP/TLS connect to `host`."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code in (X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH):
            return (
                f"TLS: the broker's certificate is not issued to {host!r} ({exc.verify_message}): set "
                "mqtt.host to a name or address in the certificate's subjectAltName, or reissue the "
                "certificate for this name (mqtt.tls.ca_file is fine: the chain verified)"
            )
        return f"TLS certificate not trusted: {exc.verify_message} (check mqtt.tls.ca_file)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the broker running on this port?)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) if exc else "connection failed"


class MqttPublisher:
    """Publishes edge-pose messages to one broker.

    `publish` never waits for the network: events are committed to the outbox (one small SQLite
    insert) and sent QoS 1 by the outbox thread; poses are rate-limited and sent QoS `pose_qos`;
    other kinds go out as given. While disconnected, only events are kept (poses and stats are live
    data and are dropped, counted)."""

    def __init__(self, settings: MqttSettings, healthy: Callable[[], bool] | None = None) -> None:
        """`healthy`: asked before each refresh of `online` (the daemon passes its watchdog check), so a
        process that is connected but no longer working lets its status expire."""
        if not settings.device or any(c in settings.device for c in "+#/\0"):
            raise ConfigError(f"device.id: {settings.device!r} cannot be an MQTT topic level")
        self.settings = settings
        self.client_id = settings.mqtt.client_id or f"edge-pose-{settings.device}"
        self.status_topic = topic(settings.mqtt.topic_prefix, settings.device, "status")
        self.ha_status_topic = f"{settings.mqtt.ha_prefix}/status"
        self.reconnect_times_s: list[float] = []  # how long each outage lasted, for the logs and tests
        self.status_expiry_s = math.ceil(STATUS_EXPIRY_KEEPALIVES * settings.mqtt.keepalive_s)
        self.status_refresh_s = STATUS_REFRESH_KEEPALIVES * settings.mqtt.keepalive_s
        self._healthy = healthy
        self._refresh_skipped = False
        self._outbox = Outbox(
            settings.outbox.path,
            settings.outbox.max_events,
            settings.outbox.max_age_s,
            settings.snapshots.max_queued,
        )
        self._gate = PoseGate(settings.mqtt.pose_max_rate_hz, settings.mqtt.pose_only_changes)
        self._alarms = AlarmState()
        self._alarm_lock = threading.Lock()
        self._counters = _Counters()
        self._connected = threading.Event()
        self._send_lock = threading.Lock()  # orders outbox sends against the reset after a connect
        self._generation = 0  # bumped on every successful connect
        self._acks: queue.SimpleQueue[tuple[int, int, ReasonCode]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closed = False
        self._started = False
        self._closing = False
        self._failures = 0  # consecutive failed connection attempts
        self._down_since: float | None = None
        self._inflight = 0
        self._client = self._make_client()
        self._sender = threading.Thread(target=self._send_outbox, name="mqtt-outbox", daemon=True)

    # --- what the daemon calls ------------------------------------------------------------------

    def start(self) -> None:
        """Start connecting in the background (returns at once; retries with back-off forever)."""
        if self._started:
            return
        self._started = True
        self._outbox.prune()
        depth = self._outbox.depth()
        if depth:
            logger.info("outbox %s: %d event(s) wait to be sent", self._outbox.path, depth)
        self._sender.start()
        s = self.settings
        logger.info(
            "MQTT connecting to %s:%d as %s (MQTT %s)",
            s.mqtt.host,
            s.mqtt.port,
            self.client_id,
            s.mqtt.protocol,
        )
        if s.mqtt.protocol != "5":
            logger.warning(
                "MQTT 3.1.1 has no message expiry: if this camera dies while the broker is down, its retained "
                "`online` outlives it until it comes back (MQTT 5 lets it expire; docs/mqtt.md)"
            )
        self._client.connect_async(s.mqtt.host, s.mqtt.port, keepalive=s.mqtt.keepalive_s)
        self._client.loop_start()

    def publish(self, message: Message) -> None:
        """Hand one message over; returns at once (an event: after its outbox commit)."""
        if self._closed:
            logger.warning("publish after close ignored: %s", message.topic)
            return
        try:
            payload = encode_payload(message)
        except (TypeError, ValueError) as exc:
            self._counters.add("invalid_payloads")
            logger.error("%s: payload is not valid JSON (%s); not published", message.topic, exc)
            return
        if message.kind in ("event", "snapshot"):
            try:
                self._outbox.add(
                    message.topic,
                    payload,
                    qos=max(EVENT_QOS, message.qos),
                    retain=message.retain,
                    # an event's id and state keep its open-event record; a snapshot has its own bound
                    event=(str(message.payload.get("id")), str(message.payload.get("state")))
                    if message.kind == "event"
                    else None,
                    kind="snapshot" if message.kind == "snapshot" else "event",
                )
            except sqlite3.Error as exc:
                # disk full, file removed under us...: still try to deliver it, without the guarantee
                self._counters.add("outbox_errors")
                logger.error(
                    "outbox %s: cannot store an event (%s); sending it directly", self._outbox.path, exc
                )
                self._send_now(message.topic, payload, max(EVENT_QOS, message.qos), message.retain)
            else:
                self._counters.add("events_queued" if message.kind == "event" else "snapshots_queued")
                self._wake.set()
            if message.kind == "snapshot":
                return  # no alarm state
            with self._alarm_lock:
                changes = self._alarms.update(message.payload)
            for kind, value in changes.items():
                self._send_now(self._alarm_topic(kind), value, STATUS_QOS, retain=True, expiring=True)
        elif message.kind == "pose":
            if not self._gate.admit(message.payload):
                return
            self._send_now(message.topic, payload, self.settings.mqtt.pose_qos, message.retain)
        else:
            self._send_now(message.topic, payload, message.qos, message.retain)

    def close(self, timeout_s: float = 3.0) -> None:
        """Send what the outbox holds while `timeout_s` lasts (the rest stays on disk for the next
        start), publish retained `stopped`, and disconnect cleanly so the will does not fire."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout_s
        if self._started:
            while time.monotonic() < deadline and self._connected.is_set() and self._outbox.depth():
                self._wake.set()
                time.sleep(CLOSE_POLL_S)
            self._stopping.set()
            self._wake.set()
            self._sender.join(timeout=max(0.5, deadline - time.monotonic()))
            self._closing = True
            if self._connected.is_set():
                info = self._client.publish(self.status_topic, STATUS_STOPPED, qos=STATUS_QOS, retain=True)
                try:
                    info.wait_for_publish(timeout=max(0.2, deadline - time.monotonic()))
                except (RuntimeError, ValueError) as exc:
                    logger.warning("MQTT: could not confirm the 'stopped' status: %s", exc)
            self._client.disconnect()
            self._client.loop_stop()
        depth = self._outbox.depth()
        if depth:
            logger.info("outbox %s: %d event(s) kept for the next start", self._outbox.path, depth)
        self._outbox.close()

    def open_events(self) -> list[Message]:
        """The last message of every event a previous run left open (it crashed or was killed before
        the event ended), oldest first: the daemon ends them before anything else."""
        return [
            Message(kind="event", topic=name, payload=json.loads(payload), qos=EVENT_QOS)
            for name, payload in self._outbox.open_events()
        ]

    @property
    def connected(self) -> bool:
        """True between an accepted CONNACK and the next disconnect."""
        return self._connected.is_set()

    @property
    def outbox_depth(self) -> int:
        """Events committed but not yet acknowledged by the broker."""
        return self._outbox.depth()

    @property
    def counters(self) -> dict[str, int]:
        """A copy of the running counters (see `_Counters` for their meaning)."""
        with self._counters.lock:
            values = dict(self._counters.values)
        values["dropped_rate_limited"] = self._gate.rate_limited
        values["dropped_unchanged"] = self._gate.unchanged
        values["outbox_dropped"] += self._outbox.dropped
        values["snapshots_dropped"] += self._outbox.dropped_snapshots
        values["events_inflight"] = self._inflight
        return values

    # --- paho wiring --------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        protocol = mqtt.MQTTv5 if s.mqtt.protocol == "5" else mqtt.MQTTv311
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=protocol)
        client.will_set(self.status_topic, STATUS_OFFLINE, qos=STATUS_QOS, retain=True)
        if s.username is not None:
            client.username_pw_set(s.username, s.password)
        if s.tls is not None:
            client.tls_set_context(tls_context(s.tls))
            if s.tls.insecure:
                client.tls_insecure_set(True)
        client.reconnect_delay_set(
            min_delay=max(1, round(s.mqtt.reconnect_min_s)), max_delay=round(s.mqtt.reconnect_max_s)
        )
        client.max_queued_messages_set(0)  # unbounded: only live sends; events wait in the outbox
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            hint = _AUTH_HINT if reason.value in _AUTH_CODES else ""
            self._note_failure(f"broker refused the connection: {reason}{hint}")
            return
        with self._send_lock:
            # paho would resend its in-memory QoS 1 copies first; the outbox resends them instead,
            # in order, so drop paho's and restart the outbox from its oldest row.
            client.drop_out_messages()
            self._generation += 1
            self._connected.set()
        now = time.monotonic()
        if self._down_since is not None:
            outage = now - self._down_since
            self.reconnect_times_s.append(outage)
            logger.warning(
                "MQTT reconnected to %s:%d after %.1f s",
                self.settings.mqtt.host,
                self.settings.mqtt.port,
                outage,
            )
        else:
            logger.info("MQTT connected to %s:%d", self.settings.mqtt.host, self.settings.mqtt.port)
        self._down_since = None
        self._failures = 0
        self._counters.add("connects")
        self._publish_availability()
        if self.settings.mqtt.ha_discovery:
            client.subscribe(self.ha_status_topic, qos=1)
            self._publish_discovery()
        else:
            for message in removal_messages(self.settings.mqtt.ha_prefix, self.settings.device):
                client.publish(message.topic, "", qos=message.qos, retain=True)
        self._wake.set()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this from inside its `except OSError` block: the exception is the current one.
        self._note_failure(_describe_connect_error(sys.exc_info()[1], self.settings.mqtt.host))

    def _note_failure(self, reason: str) -> None:
        """One log line per failed attempt (paho retries with doubling waits up to reconnect_max_s)."""
        self._failures += 1
        self._counters.add("connect_failures")
        s = self.settings
        logger.warning(
            "MQTT %s:%d: %s; attempt %d failed, retrying with back-off (up to %.0f s)",
            s.mqtt.host,
            s.mqtt.port,
            reason,
            self._failures,
            s.mqtt.reconnect_max_s,
        )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._closing:
            logger.info("MQTT disconnected from %s:%d", self.settings.mqtt.host, self.settings.mqtt.port)
            return
        if was_connected:
            self._down_since = time.monotonic()
            logger.warning(
                "MQTT connection to %s:%d lost (%s); events wait in the outbox, reconnecting",
                self.settings.mqtt.host,
                self.settings.mqtt.port,
                reason,
            )

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, properties: Properties
    ) -> None:
        self._acks.put((self._generation, mid, reason))
        self._wake.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if (
            message.topic == self.ha_status_topic
            and message.payload == b"online"
            and self.settings.mqtt.ha_discovery
        ):
            logger.info("Home Assistant came online: re-publishing discovery")
            self._publish_discovery()

    def _expiry(self) -> Properties | None:
        """PUBLISH properties that make a retained message expire 1.5 keepalives after it was sent
        (MQTT 5; None for MQTT 3.1.1, which has no message expiry)."""
        if self.settings.mqtt.protocol != "5":
            return None
        properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        properties.MessageExpiryInterval = self.status_expiry_s
        return properties

    def _publish_availability(self) -> None:
        """Retained `online` and every alarm value, expiring (after each connect and every refresh)."""
        expiry = self._expiry()
        self._client.publish(self.status_topic, STATUS_ONLINE, qos=STATUS_QOS, retain=True, properties=expiry)
        with self._alarm_lock:
            alarms = self._alarms.values()
        for kind, value in alarms.items():
            self._client.publish(
                self._alarm_topic(kind), value, qos=STATUS_QOS, retain=True, properties=expiry
            )

    def _refresh_availability(self) -> None:
        """Re-publish `online` and the alarm values (from the outbox thread, every half keepalive) while
        connected and healthy; an unhealthy process stops refreshing and its status expires."""
        if not self._connected.is_set():
            return
        if self._healthy is not None and not self._healthy():
            if not self._refresh_skipped:
                logger.error(
                    "not healthy: `online` is no longer refreshed (it expires in %d s)", self.status_expiry_s
                )
                self._refresh_skipped = True
            return
        if self._refresh_skipped:
            logger.warning("healthy again: refreshing `online`")
            self._refresh_skipped = False
        self._publish_availability()

    def _publish_discovery(self) -> None:
        s = self.settings
        for message in discovery_messages(
            s.mqtt.ha_prefix, s.mqtt.topic_prefix, s.device, __version__, expire_after_s=self.status_expiry_s
        ):
            self._client.publish(
                message.topic, encode_payload(message), qos=message.qos, retain=message.retain
            )

    def _alarm_topic(self, kind: str) -> str:
        return topic(self.settings.mqtt.topic_prefix, self.settings.device, f"alarm/{kind}")

    def _send_now(
        self, topic_name: str, payload: str, qos: int, retain: bool, expiring: bool = False
    ) -> None:
        """A live message: to paho's send queue if connected, else dropped and counted. `expiring`: with
        the availability expiry (retained alarm values)."""
        if not self._connected.is_set():
            self._counters.add("dropped_disconnected")
            return
        try:
            properties = self._expiry() if expiring else None
            info = self._client.publish(topic_name, payload, qos=qos, retain=retain, properties=properties)
        except ValueError as exc:
            self._counters.add("invalid_payloads")
            logger.error("%s: cannot publish: %s", topic_name, exc)
            return
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._counters.add("published")
        else:
            self._counters.add("dropped_disconnected")

    # --- the outbox thread --------------------------------------------------------------------

    def _send_outbox(self) -> None:
        """Send outbox rows in id order (at most EVENT_WINDOW unacknowledged), delete acknowledged
        ones, apply the bounds now and then. After each connect: start again from the oldest row."""
        inflight: dict[int, int] = {}  # paho mid → outbox row id
        generation = -1
        last_sent = 0
        next_prune = time.monotonic() + OUTBOX_PRUNE_INTERVAL_S
        next_sync = time.monotonic() + OUTBOX_SYNC_INTERVAL_S
        next_refresh = time.monotonic() + self.status_refresh_s
        while not self._stopping.is_set():
            self._wake.wait(min(OUTBOX_IDLE_S, self.status_refresh_s))
            self._wake.clear()
            try:
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + self.status_refresh_s
                    self._refresh_availability()
                with self._send_lock:
                    if generation != self._generation:
                        generation, last_sent = self._generation, 0
                        inflight.clear()
                self._take_acks(inflight, generation)
                if time.monotonic() >= next_sync:
                    self._outbox.sync()
                    next_sync = time.monotonic() + OUTBOX_SYNC_INTERVAL_S
                if time.monotonic() >= next_prune:
                    self._outbox.prune()
                    next_prune = time.monotonic() + OUTBOX_PRUNE_INTERVAL_S
                with self._send_lock:
                    if generation != self._generation or not self._connected.is_set():
                        continue
                    room = EVENT_WINDOW - len(inflight)
                    bad: list[int] = []
                    for row in self._outbox.after(last_sent, room) if room > 0 else []:
                        last_sent = row.id
                        try:
                            info = self._client.publish(
                                row.topic, row.payload, qos=row.qos, retain=row.retain
                            )
                        except ValueError as exc:  # a topic MQTT cannot carry: it would block the queue
                            self._counters.add("invalid_payloads")
                            logger.error(
                                "outbox: event #%d to %r cannot be sent (%s); dropped", row.id, row.topic, exc
                            )
                            bad.append(row.id)
                            continue
                        inflight[info.mid] = row.id
                        self._counters.add("events_sent")
                self._outbox.delete(bad)
                self._inflight = len(inflight)
            except Exception:
                # Never let the sender die silently: the outbox would stop draining.
                logger.exception("outbox sender: unexpected error; retrying in %.0f s", OUTBOX_IDLE_S)
                time.sleep(OUTBOX_IDLE_S)
        self._take_acks(inflight, generation)

    def _take_acks(self, inflight: dict[int, int], generation: int) -> None:
        """Delete the rows whose PUBACK arrived (refused ones too: resending cannot help)."""
        done: list[int] = []
        while True:
            try:
                ack_generation, mid, reason = self._acks.get_nowait()
            except queue.Empty:
                break
            if ack_generation != generation:
                continue
            row_id = inflight.pop(mid, None)
            if row_id is None:
                continue  # a pose, stats or status message
            if reason.is_failure:
                self._counters.add("events_refused")
                logger.error("outbox: broker refused event #%d: %s (dropped; check the ACL)", row_id, reason)
            else:
                self._counters.add("events_acked")
                self._counters.add("published")
            done.append(row_id)
        self._outbox.delete(done)
