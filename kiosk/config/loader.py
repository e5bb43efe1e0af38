"""Layered loading: defaults, profile, site file, fleet overlays (signed bundles: fleet, group,
kiosk), environment (``KIOSK__A__B=value``)."""

from __future__ import annotations

import copy
import os
import reprlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from hardware.diag_output import printable
from kiosk.config import policy, safe_yaml
from kiosk.config.schema import KioskConfig

# config/ (default.yaml, profiles/, demo/), reached through the kiosk/defaults link so that
# the wheel ships it as package data
CONFIG_DIR = Path(__file__).resolve().parents[1] / "defaults"
ENV_PREFIX = "KIOSK__"
MAX_PROBLEMS = 20
MAX_PROBLEM_CHARS = 300
EXCERPT_CHARS = 80
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = EXCERPT_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxlevel = 2


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` name key paths and bad values.

    The message is bounded: at most :data:`MAX_PROBLEMS` problems of at most
    :data:`MAX_PROBLEM_CHARS` characters each, control characters escaped.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = printable(source)
        self.problems = [_bounded(p) for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            self.problems.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        super().__init__(f"invalid configuration ({self.source}):\n  "
                         + "\n  ".join(self.problems))


def _bounded(problem: str) -> str:
    shown = printable(problem)
    return shown if len(shown) <= MAX_PROBLEM_CHARS else shown[: MAX_PROBLEM_CHARS - 3] + "..."


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


_PARSED: dict[str, tuple[str, dict[str, Any]]] = {}
_PARSED_MAX = 64


def read_yaml(path: Path) -> dict[str, Any]:
    """One configuration file through :mod:`kiosk.config.safe_yaml` (bounded, strict).

    The file is read every time, but parsed only when its text changed (a copy of the last
    parse is returned): the fleet agent merges every bundle over the same defaults, and
    parsing them took 9 ms of the 10 ms a bundle cost (issue 14's benchmark)."""
    try:
        text = safe_yaml.read_text(path)
        hit = _PARSED.get(str(path))
        if hit is not None and hit[0] == text:
            return copy.deepcopy(hit[1])
        data = safe_yaml.parse(text)
    except safe_yaml.YamlRefused as exc:
        raise ConfigError(str(path), [str(exc)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"top level must be a mapping, not {type(data).__name__}"])
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[str(path)] = (text, copy.deepcopy(data))
    return data


def _env_value(raw: str) -> Any:
    """An environment value as a YAML scalar; anything the safe parser refuses stays text."""
    if raw == "":
        return ""
    try:
        return safe_yaml.parse(raw)
    except safe_yaml.YamlRefused:
        return raw


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``KIOSK__PRINTER__QUEUE=lab`` -> ``{"printer": {"queue": "lab"}}`` (YAML scalars)."""
    out: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if not path:
            continue
        value = _env_value(raw)
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError("environment", [f"{name}: conflicts with another variable"])
        node[path[-1]] = value
    return out


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A short, terminal-safe ``repr`` of ``value`` for an error message."""
    shown = printable(_REPR.repr(value))
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _key(part: str | int) -> str:
    """One part of a key path as shown: itself, or a bounded excerpt when long or odd."""
    text = str(part)
    return text if len(text) <= 40 and printable(text) == text else excerpt(part, 40)


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ".".join(_key(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {excerpt(value)})"
        msg = printable(err["msg"])
        if not err["loc"] and msg.startswith("Value error, "):  # a check naming its own key
            problems.append(msg.removeprefix("Value error, "))
            continue
        problems.append(f"{loc}: {msg}{shown}")
    return problems


def load_config(
    path: str | Path | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_dir: Path = CONFIG_DIR,
    overlays: Sequence[Mapping[str, Any]] = (),
) -> KioskConfig:
    """Load ``default.yaml``, then the profile, then ``path``, then each of ``overlays`` in
    order (the fleet's bundles: fleet, group, kiosk), then the environment."""
    environ = os.environ if environ is None else environ
    data = read_yaml(config_dir / "default.yaml")
    site: dict[str, Any] = read_yaml(Path(path)) if path else {}
    chosen = profile or site.get("profile") or environ.get("KIOSK__PROFILE") or data.get("profile")
    if chosen:
        profile_file = config_dir / "profiles" / f"{chosen}.yaml"
        if not profile_file.exists():
            known = sorted(p.stem for p in (config_dir / "profiles").glob("*.yaml"))
            raise ConfigError("profile", [f"profile: unknown profile {chosen!r} (known: {known})"])
        data = deep_merge(data, read_yaml(profile_file))
    data = deep_merge(data, site)
    for overlay in overlays:
        data = deep_merge(data, overlay)
    data = deep_merge(data, env_overrides(environ))
    if chosen:
        data["profile"] = chosen
    source = str(path or "defaults")
    try:
        cfg = KioskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _format_errors(exc)) from None
    problems = [p for p in (backend_url_problem(cfg),) if p]
    problems += [policy.refusal(u) for u in policy.evaluate(cfg).refused]
    if problems:
        raise ConfigError(source, problems)
    return cfg


def backend_url_problem(cfg: KioskConfig) -> str | None:
    """What is wrong with ``backend.url`` for an http backend (scheme and host), if anything."""
    if cfg.backend.kind != "http":
        return None
    url = cfg.backend.url or ""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        ok = False
    if not ok or any(c.isspace() for c in url):
        return (f"backend.url: the http backend needs an http:// or https:// URL with a host "
                f"(got {excerpt(url)})")
    return None
