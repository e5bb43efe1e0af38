"""What must hold before the fleet agent starts (for ``kiosk run`` and ``kiosk config check``):
problems as ``key.path: text`` lines, like :func:`kiosk.preflight.preflight`.

The broker URL's form is the schema's (:class:`kiosk.config.schema.FleetConfig`); here, what
it points at on this machine: the trust root is a readable Ed25519 public key; the broker
account and the TLS client key are the kiosk user's own files, readable by it alone; the TLS
files named (or needed for ``mqtts://``) are there and load; the state folder is writable.
No file content is ever shown.
"""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path

from kiosk.config.loader import excerpt
from kiosk.config.schema import FleetConfig, KioskConfig
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.keys import load_trust_root
from kiosk.fleet.mqtt import read_credentials
from kiosk.preflight import folder_problem


def private_file_problem(path: str) -> str | None:
    """Why ``path`` is not a secret file of this user's own (exists, regular, owned by the
    effective user, no access for group or others), or None."""
    shown = excerpt(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{shown} does not exist"
    except OSError as exc:
        return f"cannot read {shown} ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return f"{shown} is not a regular file"
    if st.st_uid != os.geteuid():
        return f"{shown} is owned by another user (uid {st.st_uid}); it must be this user's own"
    if st.st_mode & 0o077:
        return (f"{shown} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); "
                f"chmod 600 it")
    if not os.access(path, os.R_OK):
        return f"cannot read {shown}"
    return None


def _readable_problem(path: str) -> str | None:
    shown = excerpt(path)
    if not os.path.exists(path):
        return f"{shown} does not exist"
    if not os.path.isfile(path):
        return f"{shown} is not a regular file"
    if not os.access(path, os.R_OK):
        return f"cannot read {shown}"
    return None


def tls_problems(f: FleetConfig) -> list[str]:
    """The TLS files: each one named exists and is readable, the CA bundle and the client
    certificate with its key load; a client certificate needs both files."""
    problems = []
    for key in ("ca_file", "cert_file"):
        path = getattr(f, key)
        problem = _readable_problem(path) if path else None
        if problem:
            problems.append(f"fleet.{key}: {problem}")
    if f.key_file:
        problem = private_file_problem(f.key_file)
        if problem:
            problems.append(f"fleet.key_file: {problem}")
    if (f.cert_file is None) != (f.key_file is None):
        problems.append("fleet.cert_file: a client certificate needs both cert_file and "
                        "key_file")
    if problems or not f.tls:
        return problems
    ctx = ssl.create_default_context()
    if f.ca_file:
        try:
            ctx.load_verify_locations(cafile=f.ca_file)
        except (ssl.SSLError, OSError, ValueError):
            problems.append(f"fleet.ca_file: {excerpt(f.ca_file)} is not a PEM CA bundle")
    if f.cert_file and f.key_file:
        try:
            ctx.load_cert_chain(f.cert_file, f.key_file, password=lambda: b"")
        except (ssl.SSLError, OSError, ValueError):
            problems.append(f"fleet.cert_file: {excerpt(f.cert_file)} and its key_file are "
                            "not a matching PEM certificate and unencrypted key")
    return problems


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
            problems.append(f"fleet.trust_root: {exc.message} ({excerpt(f.trust_root)})")
    if f.credentials_file:
        problem = private_file_problem(f.credentials_file)
        if problem is None:
            try:
                read_credentials(f.credentials_file)
            except OperatorError as exc:
                problem = f"{excerpt(exc.where)}: {exc.message}"
        if problem:
            problems.append(f"fleet.credentials_file: {problem}")
    problems += tls_problems(f)
    problem = folder_problem(Path(f.state_dir))
    if problem:
        problems.append(f"fleet.state_dir: {problem}")
    return problems
