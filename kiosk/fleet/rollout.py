"""Staged rollout of a group (or fleet) bundle, batch by batch (hawkBit's model, with its
most-asked fix: a kiosk that does not report within the timeout fails instead of staying
"in progress" for ever).

Each kiosk of a batch gets the bundle on its own ``kiosk/<id>/config/staged`` topic; the
batch is done when every kiosk in it has reported the version applied, a refusal, a roll-back
or nothing within ``timeout_s``. More than ``max_failures`` failures stop the rollout (the
staged copies of kiosks that did not answer are withdrawn, so they do not apply it later).
When every batch is through, the bundle goes to the group's (or fleet's) desired topic,
where kiosks installed later find it, and the staged copies are cleared. Running the same
rollout again resumes it: kiosks that applied the version already are skipped, and one
that refused it counts as a failure again at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.fleet import topics
from kiosk.fleet.bundle import desired_topic, parse_scope
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.ops import FleetView, inspect_bundle


@dataclass
class RolloutResult:
    """The outcome: ``completed`` or ``stopped`` (with ``reason``), per kiosk."""

    status: str
    scope: str
    version: int
    reason: str | None = None
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)
    batches: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "scope": self.scope, "version": self.version,
                "reason": self.reason, "batches": self.batches, "applied": self.applied,
                "skipped": self.skipped, "failed": self.failed,
                "not_started": self.not_started}


def batch_size(spec: str, total: int) -> int:
    """``10%`` of ``total`` (at least one) or an absolute count such as ``5``."""
    text = spec.strip()
    try:
        if text.endswith("%"):
            share = float(text[:-1])
            if not 0 < share <= 100:
                raise ValueError
            return max(1, math.ceil(total * share / 100))
        count = int(text)
        if count < 1:
            raise ValueError
        return count
    except ValueError:
        raise OperatorError("--batch", f"expected a share such as 10% or a count such as 5 "
                            f"(got {spec[:20]!r})") from None


def verdict(reported: dict[str, Any] | None, scope: str, version: int) -> str | None:
    """``applied``, ``failed: REASON`` or None (no answer yet) for one kiosk."""
    if not reported:
        return None
    layer, _ = parse_scope(scope)
    applied = (reported.get("applied") or {}).get(layer) or {}
    if applied.get("scope") == scope and isinstance(applied.get("version"), int) \
            and applied["version"] >= version:
        return "applied"
    rejection = reported.get("last_rejection") or {}
    if rejection.get("scope") == scope and rejection.get("version") == version:
        return f"failed: {rejection.get('reason')}"
    outcome = reported.get("last_outcome") or {}
    if outcome.get("result") == "rolled_back" \
            and (outcome.get("versions") or {}).get(scope) == version:
        return f"failed: rolled_back ({outcome.get('reason')})"
    return None


def rollout(view: FleetView, bundle: bytes, group: str | None, batch: str,
            max_failures: int, timeout_s: float,
            progress: Callable[[dict[str, Any]], None] = lambda _e: None) -> RolloutResult:
    """Run (or resume) the rollout of ``bundle`` to ``group`` through ``view``."""
    info = inspect_bundle(bundle)
    scope, version = info["scope"], info["version"]
    kind, name = parse_scope(scope)
    if kind == "kiosk":
        raise OperatorError("BUNDLE", f"{scope} is for one kiosk: use `kiosk ops push`")
    if kind == "group" and group not in (None, name):
        raise OperatorError("--group", f"the bundle is for {scope}, not group:{group}")
    group = name if kind == "group" else group
    view.sync()
    targets = sorted(k for k, r in view.reported.items()
                     if group is None or r.get("group") == group)
    result = RolloutResult("completed", scope, version)
    if not targets:
        raise OperatorError("--group", f"no kiosk of {group or 'the fleet'} has reported yet")
    result.skipped = [k for k in targets if verdict(view.reported.get(k), scope, version)
                      == "applied"]
    todo = [k for k in targets if k not in result.skipped]
    size = batch_size(batch, len(targets))
    batches = [todo[i:i + size] for i in range(0, len(todo), size)]
    for index, members in enumerate(batches):
        result.batches = index + 1
        progress({"event": "batch", "batch": index + 1, "of": len(batches),
                  "kiosks": members})
        for kiosk in members:
            if verdict(view.reported.get(kiosk), scope, version) is None:
                view.publish(topics.kiosk_staged(kiosk), bundle, retain=True)

        def answered(v: FleetView, members: list[str] = members) -> bool:
            return all(verdict(v.reported.get(k), scope, version) for k in members)

        view.wait_for(answered, timeout_s)
        silent = []
        for kiosk in members:
            got = verdict(view.reported.get(kiosk), scope, version)
            if got == "applied":
                result.applied.append(kiosk)
            else:
                reason = got.removeprefix("failed: ") if got else \
                    f"no_report: nothing within {timeout_s:g} s"
                result.failed[kiosk] = reason
                if got is None:
                    silent.append(kiosk)
            progress({"event": "kiosk", "kiosk": kiosk,
                      "result": "applied" if got == "applied" else result.failed[kiosk]})
        if len(result.failed) > max_failures:
            for kiosk in silent:  # withdrawn: it must not apply a stopped rollout later
                view.publish(topics.kiosk_staged(kiosk), b"", retain=True)
            result.status = "stopped"
            result.reason = (f"{len(result.failed)} failures, more than --max-failures "
                             f"{max_failures}")
            result.not_started = [k for b in batches[index + 1:] for k in b]
            return result
    view.publish(desired_topic(scope), bundle, retain=True)
    for kiosk in targets:
        view.publish(topics.kiosk_staged(kiosk), b"", retain=True)
    progress({"event": "published", "topic": desired_topic(scope), "at": time.time()})
    return result
