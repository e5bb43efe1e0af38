"""The face check in a process of its own (``face.worker: process``, the default).

dlib holds the GIL through each detection (20-30 ms) and encoding (75-150 ms), so a face
check running on a thread of the kiosk's process stalls the UI thread with it: the camera
mirror fell to 8-12 frames a second during the challenges. In a child process the kiosk's
side of a check is pipe I/O only.

:class:`FaceWorker` has the signature of :meth:`kiosk.face.check.FaceCheck.run`. The child
(``python -m kiosk.face.worker FD``) loads the models once and runs one check at a time; it
asks the parent for each frame (the parent answers with the camera's next frame, or with
"cancelled" once the session has ended) and sends the challenge, progress and feedback
events back as they happen, then the :class:`~kiosk.face.check.CheckResult`.

Privacy: frames and the reference photo travel over a private socket pair between the two
processes, never touch the disk, and the child drops them with the check (the reference
is zeroed, as in the thread). A child that dies (killed, out of memory) ends the check under
way with ``unavailable`` (the citizen is offered the path without face) and is started
again for the next citizen.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from hardware.base import Deadline
from kiosk.face.check import CheckResult, FaceCheck, FaceFeedback
from kiosk.face.config import FaceConfig

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0  # importing dlib and loading the models (about 1-3 s unloaded)
ANSWER_SLACK_S = 10.0  # past the check's deadline, how long a silent child is waited for


class FaceWorkerError(RuntimeError):
    """The face process could not be started or answered out of turn."""


class FaceWorker:
    """A face check run by a child process (see the module doc); thread-safe, one check
    at a time. The child starts on the first check (or :meth:`start`)."""

    def __init__(self, cfg: FaceConfig | None = None) -> None:
        self.cfg = cfg or FaceConfig()
        self._lock = threading.Lock()  # one check at a time; guards the child
        self._proc: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self.starts = 0  # children started (a restart after a crash counts)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> FaceWorker:
        with self._lock:
            self._ensure()
        return self

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return None if proc is None or proc.poll() is not None else proc.pid

    def close(self) -> None:
        with self._lock:
            self._stop_child()

    def _ensure(self) -> Connection:
        if self._conn is not None and self._proc is not None and self._proc.poll() is None:
            return self._conn
        self._stop_child()
        parent, child = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "kiosk.face.worker", str(child.fileno())],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        finally:
            child.close()
        conn = Connection(parent.detach())
        self._conn = conn
        self.starts += 1
        conn.send(self.cfg.model_dump())
        if not conn.poll(START_TIMEOUT_S):
            self._stop_child()
            raise FaceWorkerError("the face process did not start")
        try:
            ready = conn.recv()
        except (EOFError, OSError) as exc:
            self._stop_child()
            raise FaceWorkerError(f"the face process ended at start: {exc}") from exc
        if ready != ("ready",):
            self._stop_child()
            raise FaceWorkerError(f"the face process said {ready!r} at start")
        return conn

    def _stop_child(self) -> None:
        conn, proc = self._conn, self._proc
        self._conn = self._proc = None
        if conn is not None:
            try:
                conn.send(("stop",))
            except OSError:
                pass
            conn.close()
        if proc is not None:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    # -- a check --------------------------------------------------------------------------
    def run(self, frames: Callable[[], Any], reference_jpeg: bytes | bytearray,
            deadline: Deadline, on_challenge: Callable[[str | None], None] | None = None,
            on_progress: Callable[[str], None] | None = None,
            on_feedback: Callable[[FaceFeedback], None] | None = None) -> CheckResult:
        """As :meth:`FaceCheck.run`, in the child process."""
        with self._lock:
            try:
                conn = self._ensure()
            except (FaceWorkerError, OSError) as exc:
                log.error("face process unavailable: %s", exc)
                return CheckResult(False, "unavailable")
            try:
                return self._serve(conn, frames, reference_jpeg, deadline, on_challenge,
                                   on_progress, on_feedback)
            except (EOFError, OSError, FaceWorkerError) as exc:
                log.error("face process lost during a check: %s", exc)
                self._stop_child()
                return CheckResult(False, "unavailable")

    def _serve(self, conn: Connection, frames: Callable[[], Any],
               reference_jpeg: bytes | bytearray, deadline: Deadline,
               on_challenge: Callable[[str | None], None] | None,
               on_progress: Callable[[str], None] | None,
               on_feedback: Callable[[FaceFeedback], None] | None) -> CheckResult:
        # the monotonic clock is the machine's: the child keeps the same deadline
        conn.send(("check", bytearray(reference_jpeg) if isinstance(reference_jpeg, bytes)
                   else reference_jpeg, deadline.end, on_challenge is not None))
        period = 1.0 / self.cfg.max_fps
        next_at = 0.0
        while True:
            # a child that stops answering is not waited for past the deadline (+ slack)
            if not conn.poll(max(1.0, deadline.remaining() + ANSWER_SLACK_S)):
                raise FaceWorkerError("the face process stopped answering")
            msg = conn.recv()
            kind = msg[0]
            if kind == "frame":
                # at most max_fps (what the face check does not need is the screen's); a
                # session that has ended is answered "cancelled" (the wait returns at once)
                if deadline.cancel.wait(max(0.0, next_at - time.monotonic())):
                    conn.send(("cancelled",))
                    continue
                frame = frames()
                # 0.8: a camera at max_fps itself is never slowed to every other frame
                next_at = time.monotonic() + 0.8 * period
                conn.send(("frame", frame))
                del frame
            elif kind == "challenge":
                if on_challenge is not None:
                    on_challenge(msg[1])
            elif kind == "progress":
                if on_progress is not None:
                    on_progress(msg[1])
            elif kind == "feedback":
                if on_feedback is not None:
                    on_feedback(msg[1])
            elif kind == "result":
                result: CheckResult = msg[1]
                return result
            elif kind == "failed":  # the check raised in the child (logged there)
                log.error("face check failed in the face process: %s", msg[1])
                return CheckResult(False, "unavailable")
            else:
                raise FaceWorkerError(f"unexpected message from the face process: {kind!r}")


# -- the child ------------------------------------------------------------------------------
def _child(fd: int) -> None:
    conn = Connection(fd)
    cfg = FaceConfig(**conn.recv())
    from kiosk.face.verify import FaceVerifier, _Models

    verifier = FaceVerifier(cfg)
    _Models.get()  # the models now, not in front of the first citizen
    conn.send(("ready",))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg[0] == "stop":
            return
        try:
            result = _check(conn, cfg, verifier, msg)
        except (EOFError, OSError):
            return  # the kiosk went away
        except Exception as exc:  # reported; the child serves the next check
            log.exception("face check failed")
            conn.send(("failed", type(exc).__name__))
            continue
        conn.send(("result", result))


def _check(conn: Connection, cfg: FaceConfig, verifier: Any, msg: tuple[Any, ...]
           ) -> CheckResult:
    """One check in the child: frames asked of the parent, events sent to it."""
    _, reference, end, challenges = msg
    cancel = threading.Event()
    deadline = Deadline(0, cancel)
    deadline.end = end  # the parent's deadline (one monotonic clock per machine)

    def frames() -> Any:
        if cancel.is_set():
            return None
        conn.send(("frame",))
        reply = conn.recv()
        if reply[0] == "cancelled":
            cancel.set()
            return None
        return reply[1]

    photo = reference if isinstance(reference, bytearray) else bytearray(reference)
    del reference, msg
    try:
        return FaceCheck(cfg, verifier).run(  # a fresh liveness state per check
            frames, photo, deadline,
            (lambda c: conn.send(("challenge", c))) if challenges else None,
            lambda s: conn.send(("progress", s)),
            lambda fb: conn.send(("feedback", fb)))
    finally:
        photo[:] = bytes(len(photo))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="face-worker %(levelname)s %(name)s: %(message)s")
    _child(int(sys.argv[1]))
