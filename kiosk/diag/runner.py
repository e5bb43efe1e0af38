"""Run diagnostic steps concurrently, each with its own deadline; never hang, never raise.

A *lane* is a list of steps run in order on one daemon thread (a device: describe it, then its
checks from internal to interactive, since a test print comes after the driver's own state).
All lanes start at once. The caller waits on each step until its deadline, counted from when
that step started; a step that hangs is reported as timed out and the lane's later steps as
not run; a step that raises is reported with its error. A hung thread is abandoned (daemon: it
never keeps the process alive; a ``ThreadPoolExecutor`` worker would, at exit) and its late
answer dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hardware.base import DeviceError


@dataclass(frozen=True)
class Step:
    key: str
    call: Callable[[], Any]
    deadline_s: float


@dataclass(frozen=True)
class StepResult:
    """A step's value, or why there is none (``error``; ``timed_out``; ``skipped``)."""

    key: str
    value: Any
    error: str | None
    duration_s: float
    timed_out: bool = False
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class _Lane:
    def __init__(self, name: str, steps: Sequence[Step], clock: Callable[[], float]) -> None:
        self.steps = list(steps)
        self.clock = clock
        self.cond = threading.Condition()
        self.started: dict[int, float] = {}
        self.done: dict[int, StepResult] = {}
        self.abandoned = False
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"diag-{name}")

    def start(self) -> None:
        if not self.steps:
            return
        with self.cond:
            self.started[0] = self.clock()
        self.thread.start()

    def _run(self) -> None:
        for i, step in enumerate(self.steps):
            with self.cond:
                if self.abandoned:
                    return
                start = self.started[i]
            result = _call(step, start, self.clock)
            with self.cond:
                if self.abandoned:
                    return
                self.done[i] = result
                if i + 1 < len(self.steps):
                    self.started[i + 1] = self.clock()
                self.cond.notify_all()

    def collect(self) -> list[StepResult]:
        out: list[StepResult] = []
        with self.cond:
            for i, step in enumerate(self.steps):
                while i not in self.done:
                    remaining = self.started[i] + step.deadline_s - self.clock()
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
                if i in self.done:
                    out.append(self.done[i])
                    continue
                self.abandoned = True
                out.append(StepResult(step.key, None, f"timed out after {step.deadline_s:g} s",
                                      self.clock() - self.started[i], timed_out=True))
                out += [StepResult(later.key, None,
                                   f"not run: the {step.key} step did not finish", 0.0,
                                   skipped=True) for later in self.steps[i + 1:]]
                break
        return out


def _call(step: Step, start: float, clock: Callable[[], float]) -> StepResult:
    try:
        value = step.call()
    except DeviceError as exc:
        return StepResult(step.key, None, f"{exc.code.value}: {exc.message}", clock() - start)
    except Exception as exc:  # a driver bug is a failed step, never a crashed report
        return StepResult(step.key, None, f"raised {type(exc).__name__}: {exc}",
                          clock() - start)
    return StepResult(step.key, value, None, clock() - start)


def run_lanes(lanes: Sequence[tuple[str, Sequence[Step]]], *,
              clock: Callable[[], float] = time.monotonic) -> list[list[StepResult]]:
    """Every lane's results in order, all lanes at once. Returns within about the largest
    lane's sum of deadlines, whatever the steps do."""
    runs = [_Lane(name, steps, clock) for name, steps in lanes]
    for run in runs:
        run.start()
    return [run.collect() for run in runs]
