"""The private X server: Xvfb processes started at the same moment (screen runs in parallel)
each get a display of their own, so stopping one never breaks another's window (the
"X connection broken" of parallel screen runs, when two runs picked the same free number
and the second took the first's socket for its own)."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from screens.xvfb import Xvfb


def _answers(display: str) -> bool:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(str(Path("/tmp/.X11-unix") / f"X{display.lstrip(':')}"))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def test_servers_started_together_get_their_own_displays() -> None:
    servers = [Xvfb(64, 64) for _ in range(6)]
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda x: x.start(), servers))
    try:
        displays = [x.display for x in servers]
        assert len(set(displays)) == len(servers), displays
        pids = {x.pid for x in servers}
        assert len(pids) == len(servers) and None not in pids
        last = servers[-1]
        for x in servers[:-1]:
            x.stop()
        assert last.display is not None and _answers(last.display)
        assert last.running
    finally:
        for x in servers:
            x.stop()


def test_a_stopped_server_is_gone() -> None:
    x = Xvfb(64, 64).start()
    display = x.display
    assert display is not None and _answers(display)
    x.stop()
    assert x.display is None and not x.running
    assert not _answers(display)
