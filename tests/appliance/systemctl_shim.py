"""``systemctl`` for tools under test, answered by :class:`tests.appliance.supervisor.Supervisor`.

``python -m tests.appliance.systemctl_shim --control SOCK restart --no-block kiosk.service``
and ``... show kiosk.service --property=MainPID,NRestarts`` print what systemctl prints
(``Key=value`` lines), so the tool talks to a real running service the way it would in the
field.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="systemctl")
    parser.add_argument("--control", required=True)
    parser.add_argument("--no-block", action="store_true")
    parser.add_argument("-p", "--property", action="append", default=[])
    parser.add_argument("verb", choices=["start", "stop", "restart", "show"])
    parser.add_argument("unit")
    args = parser.parse_args(argv)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(args.control)
        sock.sendall(json.dumps({"cmd": args.verb}).encode() + b"\n")
        answer = json.loads(sock.makefile("rb").readline())
    if not answer.get("ok"):
        print(answer.get("error"), file=sys.stderr)
        return 1
    if args.verb == "show":
        wanted = [p for item in args.property for p in item.split(",") if p]
        props = answer["properties"]
        for key in wanted or sorted(props):
            print(f"{key}={props.get(key, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
