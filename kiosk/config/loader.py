"""Layered loading: defaults, profile, site file, environment (``KIOSK__A__B=value``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kiosk.config.schema import KioskConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
ENV_PREFIX = "KIOSK__"


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` name key paths and bad values."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid configuration ({source}):\n  " + "\n  ".join(problems))


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), [f"{where}not valid YAML: {problem}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), [f"top level must be a mapping, not {type(data).__name__}"])
    return data


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``KIOSK__PRINTER__QUEUE=lab`` -> ``{"printer": {"queue": "lab"}}`` (YAML scalars)."""
    out: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if not path:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError("environment", [f"{name}: conflicts with another variable"])
        node[path[-1]] = value
    return out


def _format_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        problems.append(f"{loc}: {err['msg']}{shown}")
    return problems


def load_config(
    path: str | Path | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_dir: Path = CONFIG_DIR,
) -> KioskConfig:
    """Load ``default.yaml``, then the profile, then ``path``, then the environment."""
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
    data = deep_merge(data, env_overrides(environ))
    if chosen:
        data["profile"] = chosen
    try:
        return KioskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(path or "defaults"), _format_errors(exc)) from None
