"""The live view's web server: aiohttp on its own thread and event loop, beside the frame loop.

aiohttp is the one web dependency (the `preview` extra), imported only here and only when the preview is
on. It is asyncio: one thread serves every viewer, long-lived responses (the MJPEG stream) cost a
coroutine each rather than a thread, and it brings what would otherwise be hand-written: HTTP parsing
and its limits (request line, headers, body size: `client_max_size` answers 413), routing, streaming
responses with back-pressure, and TLS through the standard `ssl` module.

Routes (ROUTES): the page and its static files, the MJPEG stream, the latest frame, the state as JSON,
the zones (GET, PUT) and event snapshots. Bound to a loopback address the server answers only requests
whose Host names the loopback (DNS rebinding cannot turn a web page into a camera viewer); with
`preview.password_file` every request, known route or not, needs the HTTP Basic login (401 otherwise)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import ipaddress
import logging
import re
import ssl
import threading
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from edge.preview.config import PreviewConfig, server_tls_context
from edge.preview.frame_slot import Encoded
from edge.preview.zone_editor import ZoneSaveError

if TYPE_CHECKING:
    from edge.preview.stage import PreviewStage

logger = logging.getLogger(__name__)

ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/"),
    ("GET", "/static/{name}"),
    ("GET", "/stream.mjpg"),
    ("GET", "/frame.jpg"),
    ("GET", "/api/state"),
    ("GET", "/api/zones"),
    ("PUT", "/api/zones"),
    ("GET", "/snapshots/{event_id}.jpg"),
)
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}  # the only files served
MAX_BODY_BYTES = 64 * 1024  # a zone set is a few kB; aiohttp answers 413 beyond this
BOUNDARY = "edge-pose-frame"
FRAME_WAIT_S = 2.0  # /frame.jpg waits this long for a fresh frame
STREAM_IDLE_S = 5.0  # the stream re-checks (and notices a stop) at least this often
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 1.5  # of the daemon's 5 s stop budget
FAILED_LOGIN_DELAY_S = 0.25  # slows password guessing without hurting a person who mistyped
EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'",
}


def _quiet_bad_requests(record: logging.LogRecord) -> bool:
    """aiohttp logs a malformed request as an ERROR with a traceback; one INFO line is enough (a port
    scanner must not fill the journal with tracebacks)."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, HttpProcessingError):
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg, record.args, record.exc_info = (
            "preview: malformed request refused (%s)",
            (exc.message,),
            None,
        )
    return True


def _json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _host_is_loopback(host_header: str | None) -> bool:
    """Whether an HTTP Host header names a loopback address or localhost (any port)."""
    if not host_header:
        return False
    host = host_header.strip()
    if host.startswith("["):  # [::1]:8080
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        return host.lower() == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PreviewServer:
    """Serves one PreviewStage; `start` binds (raising OSError when it cannot), `stop` ends every stream."""

    def __init__(
        self,
        config: PreviewConfig,
        stage: PreviewStage,
        password: str | None,
        tls_files: tuple[Path, Path] | None,
    ) -> None:
        self.config = config
        self.stage = stage
        self._password = password
        self._login = password is not None
        self._tls_files = tls_files
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._new_frame: asyncio.Event | None = None
        self._stopping = False
        self.address = ""

    # --- the app -------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application (routes, guard middleware, body limit)."""
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY_BYTES)
        handlers = {
            ("GET", "/"): self._page,
            ("GET", "/static/{name}"): self._static,
            ("GET", "/stream.mjpg"): self._stream,
            ("GET", "/frame.jpg"): self._frame,
            ("GET", "/api/state"): self._state,
            ("GET", "/api/zones"): self._zones,
            ("PUT", "/api/zones"): self._save_zones,
            ("GET", "/snapshots/{event_id}.jpg"): self._snapshot,
        }
        for (method, path), handler in handlers.items():
            app.router.add_route(method, path, handler)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Every request: the login (when configured) or a loopback Host; then the security headers."""
        if self._login:
            if not self._authorised(request.headers.get("Authorization", "")):
                await asyncio.sleep(FAILED_LOGIN_DELAY_S)
                return _json_error(
                    401,
                    "login required",
                    **{"WWW-Authenticate": 'Basic realm="edge-pose live view", charset="UTF-8"'},
                )
        elif not _host_is_loopback(request.headers.get("Host")):
            return _json_error(
                421, "this live view answers only to localhost / 127.0.0.1 (or set preview.password_file)"
            )
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400:
                allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
                return _json_error(exc.status, exc.reason, **allow)
            raise
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
        return response

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        assert self._password is not None
        user_ok = hmac.compare_digest(user.encode(), self.config.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return bool(sep) and user_ok and password_ok

    # --- handlers ------------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.Response:
        html = resources.files("edge.preview").joinpath("static/index.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_FILES:  # a fixed list: no path from the request ever reaches the file system
            raise web.HTTPNotFound(reason=f"no such file: {name!r}")
        data = resources.files("edge.preview").joinpath(f"static/{name}").read_bytes()
        return web.Response(body=data, content_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    async def _next_frame(self, after_seq: int, timeout_s: float) -> Encoded | None:
        """The newest frame with a sequence number above `after_seq`, waiting up to `timeout_s`."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self._stopping:
            latest = self.stage.slot.latest()
            if latest is not None and latest.seq > after_seq:
                return latest
            event = self._new_frame
            assert event is not None
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return None
        return None

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                "Cache-Control": "no-store",
                **SECURITY_HEADERS,
            }
        )
        await response.prepare(request)
        slot = self.stage.slot
        slot.stream_opened()
        seq = 0
        try:
            while not self._stopping:
                encoded = await self._next_frame(seq, STREAM_IDLE_S)
                if encoded is None:
                    continue
                seq = encoded.seq
                head = (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(encoded.jpeg)}\r\n\r\n"
                )
                await response.write(head.encode("ascii") + encoded.jpeg + b"\r\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            slot.stream_closed()
        return response

    async def _frame(self, request: web.Request) -> web.Response:
        slot = self.stage.slot
        slot.poll()
        latest = slot.latest()
        if latest is None or self.stage.frame_is_stale(latest):
            latest = await self._next_frame(latest.seq if latest else 0, FRAME_WAIT_S) or latest
        if latest is None:
            return _json_error(503, "no frame yet (is the camera streaming?)", **{"Retry-After": "1"})
        return web.Response(
            body=latest.jpeg,
            content_type="image/jpeg",
            headers={"Cache-Control": "no-store", "X-Frame-Seq": str(latest.seq)},
        )

    async def _state(self, request: web.Request) -> web.Response:
        self.stage.slot.poll()
        return web.json_response(self.stage.state(), headers={"Cache-Control": "no-store"})

    async def _zones(self, request: web.Request) -> web.Response:
        return web.json_response({"zones": self.stage.zones()}, headers={"Cache-Control": "no-store"})

    async def _save_zones(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _json_error(415, "send the zones as JSON (Content-Type: application/json)")
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            return _json_error(403, f"cross-origin request from {origin!r} refused")
        body = await request.read()  # raises 413 (HTTPRequestEntityTooLarge) beyond client_max_size
        try:
            saved = await asyncio.get_running_loop().run_in_executor(None, self.stage.save_zones, body)
        except ZoneSaveError as exc:
            return _json_error(exc.status, exc.message)
        return web.json_response(saved, headers={"Cache-Control": "no-store"})

    async def _snapshot(self, request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        if not EVENT_ID.match(event_id):
            raise web.HTTPNotFound(reason="no such snapshot")
        jpeg = self.stage.snapshot_jpeg(event_id)
        if jpeg is None:
            raise web.HTTPNotFound(reason="no such snapshot (only the latest are kept)")
        # a snapshot never changes: the browser may keep it (privately) instead of fetching it again
        return web.Response(
            body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
        )

    # --- the thread ----------------------------------------------------------------------------

    def start(self) -> None:
        """Bind and serve on a thread of its own; OSError if the address fails, ConfigError (naming
        preview.tls.cert_file) if the TLS files do."""
        context = server_tls_context(*self._tls_files) if self._tls_files is not None else None
        server_log = logging.getLogger("aiohttp.server")
        if _quiet_bad_requests not in server_log.filters:
            server_log.addFilter(_quiet_bad_requests)
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open(context))
            except BaseException as exc:  # reported to start() below
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=serve, name="preview-http", daemon=True)
        self._thread.start()
        if not started.wait(START_TIMEOUT_S):
            raise OSError(f"preview server did not start within {START_TIMEOUT_S} s")
        if failure:
            raise failure[0]
        self.stage.slot.on_frame(self._frame_ready)

    async def _open(self, context: ssl.SSLContext | None) -> None:
        self._new_frame = asyncio.Event()
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=STOP_TIMEOUT_S / 2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=context)
        await site.start()
        scheme = "https" if context else "http"
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        self.address = f"{scheme}://{host}:{self.config.port}/"

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _frame_ready(self) -> None:
        """From the encoder thread: wake the waiting streams in the server's loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        event, self._new_frame = self._new_frame, asyncio.Event()
        if event is not None:
            event.set()

    def stop(self) -> None:
        """End every stream and stop serving (within about STOP_TIMEOUT_S)."""
        self._stopping = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(self._wake)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            logger.warning("preview server did not stop within %.1f s", STOP_TIMEOUT_S)
