"""A small real service built on :mod:`kiosk.appliance`: a main loop and one worker thread.

``SIGUSR1`` hangs the main loop (it blocks forever, as a UI thread stuck in I/O would);
``SIGUSR2`` makes the worker thread end (a dead worker). SIGTERM stops it cleanly.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from kiosk.appliance.service import ServiceLink


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    link = ServiceLink.from_env()
    stop, hang, worker_ends = threading.Event(), threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: hang.set())
    signal.signal(signal.SIGUSR2, lambda *_: worker_ends.set())
    beat = link.liveness.heartbeat("worker", period_s=0.5)

    def work() -> None:
        while not worker_ends.wait(0.1) and not stop.is_set():
            beat.beat()

    worker = threading.Thread(target=work, name="worker", daemon=True)
    worker.start()
    link.liveness.watch_thread("worker-thread", worker)
    link.ready("worker=online")
    while not stop.wait(0.05):
        if hang.is_set():
            threading.Event().wait()  # the hang under test: this loop never turns again
        link.tick()
    link.stopping()
    return 0


if __name__ == "__main__":
    sys.exit(main())
