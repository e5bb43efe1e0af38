"""A hostile serial peer: a pty that sends one byte pattern forever and never answers.

Run as ``python -m tests.hardware.idcard.streaming_peer HEX [BYTES_PER_S]``; prints the pty
path on its first line, drains whatever the driver writes, and exits when its stdin closes.
A separate process, so the stream keeps coming while the driver under test holds the GIL.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
import tty


def main() -> None:
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0  # 0: as fast as the pty takes
    pattern = bytes.fromhex(sys.argv[1]) * (1 if rate else 64)
    master, slave = os.openpty()
    tty.setraw(slave)
    print(os.ttyname(slave), flush=True)

    def drain() -> None:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    os.read(master, 4096)
                except OSError:
                    return

    def stop_on_eof() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=drain, daemon=True).start()
    threading.Thread(target=stop_on_eof, daemon=True).start()
    while True:
        os.write(master, pattern)
        if rate:
            time.sleep(len(pattern) / rate)  # the peer's own pacing, like a slow UART


if __name__ == "__main__":
    main()
