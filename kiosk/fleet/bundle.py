"""Signed config bundles: an overlay on the kiosk's configuration, for one scope, with a
version and an expiry.

A bundle file (and MQTT payload) is JSON ``{"body": BODY, "cert": CERT, "sig": B64}``::

    BODY = {"format": "kiosk-bundle/1", "purpose": "config", "scope": "kiosk:k1",
            "version": 2, "issued_at": T, "expires_at": T2, "overlay": {...},
            "content_hash": "sha256:..."}

``sig`` is the signing key's Ed25519 signature over the canonical encoding of ``BODY``;
``CERT`` is the root's certificate for that key (:mod:`kiosk.fleet.keys`). The overlay comes
from YAML read by :mod:`kiosk.config.safe_yaml`. :func:`verify` checks, in this order:
the certificate (``untrusted_key``), the signature and content hash (``bad_signature``), the
expiry (``expired``) and the scope (``wrong_scope``); the version against the high-water
mark and the merged configuration are checked by the agent, which holds them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing

from kiosk.config import safe_yaml
from kiosk.fleet.canonical import NotCanonical, b64d, b64e, canonical, digest, strict_loads
from kiosk.fleet.errors import OperatorError, Rejected
from kiosk.fleet.keys import SigningKey, trusted_signer

FORMAT = "kiosk-bundle/1"
MAX_BUNDLE_BYTES = 256 * 1024
MAX_VERSION = 2**53
LAYERS = ("fleet", "group", "kiosk")  # the order they are merged in
# what a bundle may not set: who the kiosk is, what it trusts, where its state lives, which
# profile and policy overrides it runs under, whether and how it reaches the fleet's broker
# (set on site by the installer; a remote move could strand a kiosk)
FORBIDDEN = ("profile", "var_dir", "policy", "kiosk.id", "kiosk.group", "fleet.enabled",
             "fleet.trust_root", "fleet.state_dir", "fleet.broker_url", "fleet.tls",
             "fleet.ca_file", "fleet.cert_file", "fleet.key_file", "fleet.credentials_file",
             "fleet.keepalive_s")
_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_SCOPE = re.compile(rf"fleet|kiosk:{_NAME}|group:{_NAME}")
_BODY_KEYS = frozenset({"format", "purpose", "scope", "version", "issued_at", "expires_at",
                        "overlay", "content_hash"})


def parse_scope(scope: str) -> tuple[str, str | None]:
    """``kiosk:ID`` -> ``("kiosk", "ID")``, ``group:G`` -> ``("group", "G")``, ``fleet``."""
    if not _SCOPE.fullmatch(scope):
        raise ValueError(f"scope must be kiosk:ID, group:NAME or fleet (got {scope[:70]!r})")
    kind, _, name = scope.partition(":")
    return kind, name or None


def desired_topic(scope: str) -> str:
    """Where a bundle for ``scope`` is published (retained)."""
    kind, name = parse_scope(scope)
    if kind == "kiosk":
        return f"kiosk/{name}/config/desired"
    if kind == "group":
        return f"fleet/{name}/config/desired"
    return "fleet/config/desired"


@dataclass(frozen=True)
class Bundle:
    """A bundle whose signature, certificate, expiry and scope have been checked."""

    scope: str
    layer: str
    version: int
    issued_at: int
    expires_at: int
    overlay: dict[str, Any]
    digest: str


# -- signing -----------------------------------------------------------------------------
def _json_overlay(value: Any, path: str) -> Any:
    """``value`` as plain JSON data, or :class:`OperatorError` naming the key path."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise OperatorError(path or "(top level)", f"key {key!r} is not text")
            out[key] = _json_overlay(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list):
        return [_json_overlay(v, f"{path}.{i}") for i, v in enumerate(value)]
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return value
    raise OperatorError(path, f"{type(value).__name__} values cannot go in a bundle "
                        "(quote dates and times)")


def forbidden_keys(overlay: Mapping[str, Any]) -> list[str]:
    """The key paths of ``overlay`` that a bundle may not set."""
    found = []
    for key in FORBIDDEN:
        node: Any = overlay
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
            if node is None:
                break
        else:
            found.append(key)
    return found


def read_overlay(path: str | Path) -> dict[str, Any]:
    """The overlay in the YAML file ``path`` (an empty file is an empty overlay)."""
    try:
        data = safe_yaml.load_file(path)
    except safe_yaml.YamlRefused as exc:
        raise OperatorError(str(path), str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise OperatorError(str(path), "the overlay must be a mapping")
    overlay: dict[str, Any] = _json_overlay(data, "")
    bad = forbidden_keys(overlay)
    if bad:
        raise OperatorError(f"{path}: {bad[0]}", "a bundle may not set this")
    return overlay


def sign(overlay: Mapping[str, Any], key: SigningKey, version: int, expires_s: float,
         scope: str, now: float | None = None) -> bytes:
    """A bundle (JSON bytes) carrying ``overlay`` for ``scope``, valid ``expires_s``."""
    parse_scope(scope)
    if not 1 <= version < MAX_VERSION:
        raise ValueError(f"version must be 1..{MAX_VERSION - 1}")
    issued = int(time.time() if now is None else now)
    content = _json_overlay(overlay, "")
    body = {"format": FORMAT, "purpose": "config", "scope": scope, "version": version,
            "issued_at": issued, "expires_at": issued + max(1, int(expires_s)),
            "overlay": content, "content_hash": digest(content)}
    if issued + int(expires_s) > key.not_after:
        raise ValueError("the bundle would outlive the signing key's certificate "
                         f"(until {int(key.not_after)}); certify a new signing key")
    doc = {"body": body, "cert": key.cert, "sig": b64e(key.key.sign(canonical(body)).signature)}
    data = canonical(doc) + b"\n"
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValueError(f"the bundle is larger than {MAX_BUNDLE_BYTES} bytes")
    return data


# -- verifying ---------------------------------------------------------------------------
def verify(payload: bytes, root: nacl.signing.VerifyKey, kiosk_id: str, group: str,
           now: float | None = None) -> Bundle:
    """The checked bundle in ``payload``, or :class:`Rejected` with its code."""
    now = time.time() if now is None else now
    try:
        doc = strict_loads(payload, MAX_BUNDLE_BYTES)
        if not isinstance(doc, dict) or set(doc) != {"body", "cert", "sig"}:
            raise NotCanonical("not a bundle")
        body, sig = doc["body"], b64d(doc["sig"])
        if not isinstance(body, dict):
            raise NotCanonical("not a bundle")
    except NotCanonical as exc:
        raise Rejected("bad_signature", f"unreadable bundle ({exc})") from None
    signer = trusted_signer(doc["cert"], root, "config", now)
    try:
        signer.verify(canonical(body), sig)
    except (nacl.exceptions.BadSignatureError, ValueError):
        raise Rejected("bad_signature", "the signature does not match the content") from None
    if set(body) != _BODY_KEYS or body["format"] != FORMAT or body["purpose"] != "config":
        raise Rejected("bad_signature", "not a config bundle")
    overlay, version = body["overlay"], body["version"]
    if not isinstance(overlay, dict) or digest(overlay) != body["content_hash"]:
        raise Rejected("bad_signature", "the content hash does not match the overlay")
    times = (body["issued_at"], body["expires_at"])
    if type(version) is not int or not 1 <= version < MAX_VERSION \
            or not all(type(t) is int for t in times) or not isinstance(body["scope"], str):
        raise Rejected("bad_signature", "bad version, scope or times")
    if now >= body["expires_at"]:
        raise Rejected("expired", f"version {version} expired at {body['expires_at']}")
    try:
        layer, name = parse_scope(body["scope"])
    except ValueError as exc:
        raise Rejected("wrong_scope", str(exc)) from None
    mine = {"kiosk": kiosk_id, "group": group, "fleet": None}[layer]
    if name != mine:
        raise Rejected("wrong_scope", f"for {body['scope']}, this is kiosk:{kiosk_id} in "
                       f"group:{group}")
    return Bundle(body["scope"], layer, version, times[0], times[1], overlay, digest(body))
