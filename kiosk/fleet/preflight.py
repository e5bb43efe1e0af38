"""What must hold before the fleet agent starts (for ``kiosk run`` and ``kiosk config check``):
problems as ``key.path: text`` lines, like :func:`kiosk.preflight.preflight`."""

from __future__ import annotations

import os

from kiosk.config.schema import KioskConfig
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.keys import load_trust_root
from kiosk.fleet.mqtt import read_credentials


def fleet_problems(cfg: KioskConfig) -> list[str]:
    """Problems with the fleet settings of ``cfg`` on this machine (none when it is off)."""
    f = cfg.fleet
    if not f.enabled:
        return []
    problems = []
    if not f.trust_root:
        problems.append("fleet.trust_root: needed when the fleet agent is on (the root.pub "
                        "of `kiosk ops keygen`)")
    else:
        try:
            load_trust_root(f.trust_root)
        except OperatorError as exc:
            problems.append(f"fleet.trust_root: {exc.message} ({f.trust_root})")
    if f.credentials_file:
        try:
            read_credentials(f.credentials_file)
        except OperatorError as exc:
            problems.append(f"fleet.credentials_file: {exc.message}")
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(f, key)
        if path and not os.access(path, os.R_OK):
            problems.append(f"fleet.{key}: cannot read {path}")
    if (f.cert_file is None) != (f.key_file is None):
        problems.append("fleet.cert_file: a client certificate needs both cert_file and "
                        "key_file")
    return problems
