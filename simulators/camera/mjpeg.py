"""The simulator camera as a real HTTP MJPEG stream (multipart/x-mixed-replace), or a video file.

``MjpegCamera`` renders a scenario in real time (frame ``k`` shows scenario time ``k / fps`` from
when it started) and serves it at ``http://127.0.0.1:<port>/stream.mjpg`` from a real HTTP server,
exactly as an IP camera does. ``stop()`` drops the stream (listening socket and open connections),
``start()`` brings it back on the same port: that is how tests show the capture adapter recover.
``write_video`` writes a scenario to an MJPG .avi file for replay through the same adapter.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from edge.ports import free_port as free_port  # re-exported: callers import it from here
from simulators.camera.scenario import CameraScenario, Reach, ReachKind, ScenarioPlayer, make_reach

log = logging.getLogger(__name__)
BOUNDARY = "smartshelfframe"


class MjpegCamera:
    """Serves rendered frames of a scenario as an MJPEG stream over HTTP."""

    def __init__(
        self, scenario: CameraScenario, port: int | None = None, quality: int = 80, loop: bool = True
    ):
        self.scenario = scenario
        self.port = port or free_port()
        self.quality = quality
        self.loop = loop
        self.frames_sent = 0
        self._player = ScenarioPlayer(scenario)
        self._rng = random.Random(f"live/{scenario.seed}")
        self._jpeg = b""
        self._seq = 0
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._running = threading.Event()
        self._started_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def scenario_time(self, wall: float) -> float:
        """The scenario time a frame captured at wall-clock ``wall`` shows."""
        t = wall - self._started_at
        return t % self.scenario.duration_s if self.loop else t

    def add_reach(self, lane: int, kind: ReachKind, shopper: str = "s-live", delay_s: float = 0.0) -> Reach:
        """Script an arm into ``lane`` now (+ ``delay_s``), for a live demo; returns it with its timing.

        The item leaves (pick) or joins (return) the facings at ``reach.t_swap`` scenario seconds, i.e.
        at wall time ``started_at + reach.t_swap`` (``loop=False`` keeps the two clocks aligned).
        """
        t0 = self.scenario_time(time.time()) + delay_s
        reach = make_reach(self._rng, lane, t0, kind, self.scenario.products[lane], shopper)
        self._player.live.append(reach)
        return reach

    @property
    def started_at(self) -> float:
        return self._started_at

    def start(self) -> MjpegCamera:
        if self._started_at == 0.0:
            self._started_at = time.time()
            producer = threading.Thread(target=self._produce, name="mjpeg-render", daemon=True)
            self._running.set()
            producer.start()
            self._threads.append(producer)
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        server.allow_reuse_address = True
        self._server = server
        serve = threading.Thread(target=server.serve_forever, name="mjpeg-http", daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        """Drop the stream: close the listening socket and every open connection (rendering goes on)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._cond:
            self._seq += 1  # wakes the handlers, which see the server gone and close
            self._cond.notify_all()

    def close(self) -> None:
        self.stop()
        self._running.clear()
        for t in self._threads:
            t.join(timeout=2)

    def __enter__(self) -> MjpegCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _produce(self) -> None:
        period = 1.0 / self.scenario.fps
        k = 0
        while self._running.is_set():
            due = self._started_at + k * period
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            t = k * period
            frame = self._player.frame_at(t % self.scenario.duration_s if self.loop else t)
            ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if ok:
                with self._cond:
                    self._jpeg = jpg.tobytes()
                    self._seq += 1
                    self._cond.notify_all()
            k += 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self
        server_ref: Callable[[], ThreadingHTTPServer | None] = lambda: camera._server  # noqa: E731

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                log.debug("mjpeg: " + format, *args)

            def do_GET(self) -> None:
                if self.path != "/stream.mjpg":
                    self.send_error(404, "the stream is at /stream.mjpg")
                    return
                me = server_ref()
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                seen = -1

                def fresh(last: int) -> Callable[[], bool]:
                    return lambda: camera._seq != last

                try:
                    while camera._running.is_set():
                        with camera._cond:
                            camera._cond.wait_for(fresh(seen), timeout=1.0)
                            seen, jpeg = camera._seq, camera._jpeg
                        if server_ref() is not me or me is None:
                            break  # the stream was dropped
                        if not jpeg:
                            continue
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                        )
                        self.wfile.write(jpeg)
                        self.wfile.write(b"\r\n")
                        camera.frames_sent += 1
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    return  # the client is gone already

        return Handler


def write_video(scenario: CameraScenario, path: Path, quality: int = 80) -> Path:
    """Render the whole scenario into an MJPG .avi file at the scenario's frame rate."""
    player = ScenarioPlayer(scenario)
    g = scenario.geometry
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), scenario.fps, (g.width, g.height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, quality)
    frames = int(scenario.duration_s * scenario.fps)
    for k in range(frames):
        writer.write(player.frame_at(k / scenario.fps))
    writer.release()
    return path


def frames_of(scenario: CameraScenario) -> list[np.ndarray]:
    """Every frame of a scenario in memory (for benchmarks)."""
    player = ScenarioPlayer(scenario)
    return [player.frame_at(k / scenario.fps).copy() for k in range(int(scenario.duration_s * scenario.fps))]
