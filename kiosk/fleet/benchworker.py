"""One process of the fleet benchmark (:mod:`kiosk.fleet.bench`): many real
:class:`~kiosk.fleet.agent.FleetAgent` objects, each with its own client id, kiosk id, group
and state folder, over one broker.

``python -m kiosk.fleet.benchworker`` reads one JSON line on standard input::

    {"kiosks": [["bench-00001", "g1"], ...], "var_root": DIR, "env": {KIOSK__...: ...},
     "credentials_dir": DIR or null}

starts the agents, prints ``started N`` and waits; a line ``stop`` (or the end of standard
input) stops them and ends the process. Each agent's kiosk is a small stand-in: healthy, never
busy, taking every change (:class:`BenchKiosk`).
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kiosk.fleet.agent import ApplyResult, FleetAgent, KioskHooks
from kiosk.fleet.changes import ConfigChange
from kiosk.fleet.slots import ConfigSource

STOP_S = 20.0  # at most this long for all agents to say offline and disconnect


class BenchKiosk:
    """What the agent needs of a kiosk, reduced to a healthy one that is never busy."""

    def __init__(self) -> None:
        self.applied = 0

    def health(self) -> dict[str, Any]:
        return {"verdict": "ok", "problems": [], "out_of_service": False, "outbox_depth": 0,
                "devices": {"printer": {"status": "online", "paper": "ok"},
                            "idcard": "online", "camera": "online", "qr": "online"}}

    def apply(self, _change: ConfigChange) -> ApplyResult:
        self.applied += 1
        return ApplyResult(True)

    def command(self, _name: str, _args: Mapping[str, Any]) -> Mapping[str, Any]:
        return {}

    def hooks(self) -> KioskHooks:
        return KioskHooks(health=self.health, apply=self.apply, busy=lambda: False,
                          command=self.command, problems=lambda: [])


def kiosk_env(spec: Mapping[str, Any], kiosk_id: str, group: str) -> dict[str, str]:
    env = {str(k): str(v) for k, v in spec["env"].items()}
    env["KIOSK__VAR_DIR"] = str(Path(spec["var_root"]) / kiosk_id)
    env["KIOSK__KIOSK__ID"] = kiosk_id
    env["KIOSK__KIOSK__GROUP"] = group
    if spec.get("credentials_dir"):
        env["KIOSK__FLEET__CREDENTIALS_FILE"] = str(Path(spec["credentials_dir"])
                                                    / f"{kiosk_id}.json")
    return env


def start_agents(spec: Mapping[str, Any]) -> list[FleetAgent]:
    agents = []
    for kiosk_id, group in spec["kiosks"]:
        source = ConfigSource(None, "simulation", kiosk_env(spec, kiosk_id, group))
        agent = FleetAgent(source, source.boot(), BenchKiosk().hooks(),
                           client_id=f"bench-{os.getpid()}-{kiosk_id}")
        agent.start()
        agents.append(agent)
    return agents


def stop_agents(agents: list[FleetAgent]) -> None:
    deadline = time.monotonic() + STOP_S

    def stop(agent: FleetAgent) -> None:
        agent.stop(timeout=max(0.1, min(2.0, deadline - time.monotonic())))

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(stop, agents))


def main() -> None:
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: where is it?
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # four descriptors per agent
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = json.loads(sys.stdin.readline())
    agents = start_agents(spec)
    print(f"started {len(agents)}", flush=True)
    done = threading.Event()

    def wait_for_stop() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        done.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    done.wait()
    stop_agents(agents)
    print("stopped", flush=True)
    sys.stdout.flush()
    os._exit(0)  # the agents' daemon threads are done with; do not wait on interpreter exit


if __name__ == "__main__":
    main()
