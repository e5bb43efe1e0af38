"""Checks of what a loaded configuration points at on this machine, before anything starts.

``kiosk run`` and ``kiosk config check`` both run :func:`preflight`: the log file can be
opened (not a folder; its folder exists or can be created, and is writable), the state folder
is writable, the http backend's credentials file exists and parses, and the blink
challenge's eye models are installed with their pinned hashes. Each problem names
its key path; no file content (a token) is ever shown.
"""

from __future__ import annotations

import os
from pathlib import Path

from kiosk.config.loader import excerpt
from kiosk.config.schema import KioskConfig


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path("/")


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot be used to create files in, or None."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        return f"{excerpt(str(existing))} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        verb = "is not writable" if existing == folder else "cannot be created (no write access)"
        return f"{excerpt(str(folder))} {verb}"
    return None


def writable_file_problem(path: Path) -> str | None:
    """Why the file ``path`` cannot be created or appended to, or None."""
    if path.is_dir():
        return f"{excerpt(str(path))} is a folder, not a file"
    if path.exists():
        if not path.is_file():
            return f"{excerpt(str(path))} is not a regular file"
        if not os.access(path, os.W_OK):
            return f"{excerpt(str(path))} is not writable"
        return None
    problem = folder_problem(path.parent)
    return f"cannot create {excerpt(str(path))}: {problem}" if problem else None


def credentials_problem(cfg: KioskConfig) -> str | None:
    """Why the http backend's credentials cannot be used, or None (never shows the token)."""
    from kiosk.backend.credentials import load_credential

    path = cfg.backend.credentials_file
    if not path:
        if cfg.profile == "production":
            return "the http backend needs a credentials file in production"
        return None
    shown = excerpt(path)
    p = Path(path)
    if not p.exists():
        return f"{shown} does not exist (issue one with `kiosk backend issue-credentials`)"
    if not p.is_file():
        return f"{shown} is not a regular file"
    try:
        cred = load_credential(p)
    except OSError as exc:
        return f"{shown} cannot be read ({exc.strerror})"
    except ValueError:  # pydantic ValidationError, bad JSON, bad UTF-8: do not echo content
        return f"{shown} is not a credentials file (JSON with kiosk_id and token)"
    kiosk_id = getattr(cred, "kiosk_id", None)
    if kiosk_id is not None and kiosk_id != cfg.kiosk.id:
        return f"{shown} was issued for another kiosk id, not {cfg.kiosk.id!r}"
    return None


def preflight(cfg: KioskConfig) -> list[str]:
    """Problems as ``key.path: message`` lines; empty when the kiosk can start."""
    problems: list[str] = []
    if cfg.logging.file:
        problem = writable_file_problem(Path(cfg.logging.file))
        if problem:
            problems.append(f"logging.file: {problem}")
    problem = folder_problem(Path(cfg.var_dir))
    if problem:
        problems.append(f"var_dir: {problem}")
    if cfg.backend.kind == "http":
        problem = credentials_problem(cfg)
        if problem:
            problems.append(f"backend.credentials_file: {problem}")
    if cfg.face.enabled and cfg.face.liveness and cfg.face.blink:
        from kiosk.face import meshmodels

        problem = meshmodels.problem()
        if problem:
            problems.append(f"face.blink: {problem} (or set face.blink: false)")
    return problems
