"""The operator's side of the fleet: push a bundle, read the fleet's reported state, send a
command and wait for its answer. Used by ``kiosk ops`` and the tests.

Reading the fleet: subscribe to every ``kiosk/+/reported`` and ``kiosk/+/status`` (retained),
then publish a marker on ``ops/<client>/sync`` and wait for it to come back: what was
retained before has arrived by then on a broker that keeps a session's order (any MQTT
broker on one node; a short settle time covers a cluster's asynchronous retained delivery).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.fleet import topics
from kiosk.fleet.bundle import desired_topic, parse_scope
from kiosk.fleet.canonical import NotCanonical, strict_loads
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.mqtt import BrokerSettings, MqttLink

PUBLISH_TIMEOUT_S = 10.0


class FleetView:
    """A live view of the fleet's reported state, status and command answers."""

    def __init__(self, settings: BrokerSettings, *, answers: bool = False,
                 client_id: str | None = None) -> None:
        self.client_id = client_id or f"ops-{secrets.token_hex(6)}"
        self._sync_topic = f"ops/{self.client_id}/sync"
        self._cond = threading.Condition()
        self.reported: dict[str, dict[str, Any]] = {}
        self.status: dict[str, str] = {}
        self.answers: dict[str, dict[str, Any]] = {}  # nonce -> answer
        self._synced: set[str] = set()
        self._opened = False
        subs = [("kiosk/+/reported", 1), ("kiosk/+/status", 1), (self._sync_topic, 1)]
        if answers:
            subs.append(("kiosk/+/cmd/result", 1))
        self.link = MqttLink(settings, self.client_id, on_message=self._message,
                             subscriptions=subs)

    # -- connection ---------------------------------------------------------------------
    def __enter__(self) -> FleetView:
        return self if self._opened else self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def open(self, timeout: float = 10.0) -> FleetView:
        self._opened = True
        self.link.start()
        if not self.link.subscribed.wait(timeout):
            self.close()
            raise OperatorError("--broker", f"no connection to {self.link.settings} within "
                                f"{timeout:g} s (address, credentials, TLS?)")
        return self

    def close(self) -> None:
        self.link.stop()

    # -- messages (network thread) ------------------------------------------------------
    def _message(self, topic: str, payload: bytes, _retained: bool) -> None:
        with self._cond:
            if topic == self._sync_topic:
                self._synced.add(payload.decode("ascii", "replace"))
            elif (kiosk := topics.kiosk_of(topic)) is not None:
                if topic == topics.status(kiosk):
                    self.status[kiosk] = payload.decode("utf-8", "replace")[:16]
                elif topic == topics.reported(kiosk):
                    doc = _json(payload)
                    if doc is not None:
                        self.reported[kiosk] = doc
                    else:
                        self.reported.pop(kiosk, None)
                elif topic == topics.cmd_result(kiosk):
                    doc = _json(payload)
                    if doc is not None and isinstance(doc.get("nonce"), str):
                        self.answers[doc["nonce"]] = doc
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[FleetView], bool], timeout: float) -> bool:
        """Wait until ``predicate(self)`` holds (checked on every message); False on timeout."""
        end = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def sync(self, timeout: float = 10.0, settle_s: float = 0.0) -> None:
        """Return once the retained state present before this call has arrived."""
        marker = secrets.token_hex(8)
        self.publish(self._sync_topic, marker.encode("ascii"), retain=False, timeout=timeout)
        if not self.wait_for(lambda v: marker in v._synced, timeout):
            raise OperatorError("--broker", "the broker did not return the sync marker")
        if settle_s > 0:
            self.wait_for(lambda _v: False, settle_s)

    # -- publishing ---------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, retain: bool,
                timeout: float = PUBLISH_TIMEOUT_S) -> None:
        """Publish at QoS 1 and wait for the broker's acknowledgement."""
        info = self.link.publish(topic, payload, qos=1, retain=retain)
        if info is None:
            raise OperatorError("--broker", "not connected")
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:
            raise OperatorError("--broker", f"publish failed ({exc})") from None
        if not info.is_published():
            raise OperatorError("--broker", f"no acknowledgement within {timeout:g} s")

    def push(self, bundle: bytes) -> str:
        """Publish ``bundle`` retained on the desired topic of its scope; that topic."""
        topic = desired_topic(inspect_bundle(bundle)["scope"])
        self.publish(topic, bundle, retain=True)
        return topic

    # -- reading ------------------------------------------------------------------------
    def rows(self, group: str | None = None) -> list[dict[str, Any]]:
        """One status row per kiosk (see :func:`status_row`), sorted by kiosk id."""
        with self._cond:
            ids = sorted(set(self.reported) | set(self.status))
            rows = [status_row(k, self.reported.get(k), self.status.get(k)) for k in ids]
        return [r for r in rows if group is None or r["group"] == group]


def status_row(kiosk_id: str, reported: dict[str, Any] | None,
               status: str | None) -> dict[str, Any]:
    """What ``kiosk ops status --json`` prints for one kiosk."""
    rep = reported or {}
    rejection = rep.get("last_rejection")
    return {
        "kiosk_id": kiosk_id,
        "group": rep.get("group"),
        "online": status == "online",
        "applied_version": rep.get("applied_version"),
        "applied": rep.get("applied", {}),
        "last_rejection": {"version": rejection.get("version"),
                           "reason": rejection.get("reason")}
        if isinstance(rejection, dict) else None,
        "last_outcome": rep.get("last_outcome"),
        "pending": rep.get("pending"),
        "health": rep.get("health"),
        "last_heartbeat": rep.get("heartbeat_at"),
        "software_version": rep.get("software_version"),
        "config_version": rep.get("config_version"),
    }


def inspect_bundle(bundle: bytes) -> dict[str, Any]:
    """Scope and version of a bundle file as it claims them (the kiosk verifies)."""
    try:
        doc = strict_loads(bundle, 1024 * 1024)
        body = doc["body"]
        scope, version = body["scope"], body["version"]
        parse_scope(scope)
        if type(version) is not int:
            raise ValueError("version")
    except (NotCanonical, KeyError, TypeError, ValueError) as exc:
        raise OperatorError("BUNDLE", f"not a bundle made by `kiosk ops sign` ({exc})") \
            from None
    return {"scope": scope, "version": version, "expires_at": body.get("expires_at")}


def _json(payload: bytes) -> dict[str, Any] | None:
    if not payload:
        return None
    try:
        doc = strict_loads(payload, 1024 * 1024)
    except NotCanonical:
        return None
    return doc if isinstance(doc, dict) else None
