"""Benchmark: the reference server's throughput and latency under a loopback load generator.

Sized like the peak of a district's 600 kiosks: one certificate lookup and one application
submit per kiosk session, sent in bursts by a bounded pool of client threads, against uvicorn
on 127.0.0.1 with SQLite. Baseline from the same run: ``GET /health`` under the same load.
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from kiosk.bench.harness import BenchOptions, BenchResult, compare

CONCURRENCY = 24  # client threads, each with its own keep-alive connection
DEADLINE_S = 240.0


def _load(url: str, token: str, n: int,
          make: Callable[[int], tuple[str, str, dict[str, str], object]],
          deadline: float) -> tuple[list[float], float]:
    """Send ``n`` requests; per-request latencies (ms) and requests per second."""
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=url, timeout=30.0,
                                   headers={"Authorization": f"Bearer {token}"})
        c: httpx.Client = local.c
        return c

    def one(i: int) -> float:
        if time.monotonic() > deadline:
            return -1.0
        method, path, headers, body = make(i)
        t0 = time.perf_counter()
        resp = client().request(method, path, headers=headers, json=body)
        elapsed = (time.perf_counter() - t0) * 1000.0
        if resp.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status_code}")
        return elapsed

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        samples = [s for s in pool.map(one, range(n)) if s >= 0]
    wall = time.perf_counter() - t0
    return samples, len(samples) / wall if wall else 0.0


def _start_server(tmp: Path, token_file: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``kiosk backend serve`` in its own process (client and server do not share a GIL)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "backend", "serve", "--port", str(port),
         "--db", str(tmp / "platform.sqlite"), "--seed-demo", "--credentials",
         str(token_file), "--key-file", str(tmp / "key")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    ready = threading.Event()
    end = time.monotonic() + 60
    while not ready.is_set() and time.monotonic() < end and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                ready.set()
        except httpx.TransportError:
            ready.wait(0.1)
    if not ready.is_set():
        proc.kill()
        raise RuntimeError("reference server did not start")
    return proc, url


def throughput(opts: BenchOptions) -> list[BenchResult]:
    """Certificate lookup and submit latency/throughput vs /health, same server, same load."""
    from kiosk.backend.credentials import CredentialStore
    from kiosk.backend.platform.seed import load_people

    sessions = 100 if opts.quick else 600
    deadline = time.monotonic() + DEADLINE_S
    chen = next(c for c in load_people()["citizens"] if c["key"] == "chen")
    card = {"name": chen["name"], "id_number": chen["id_number"],
            "valid_from": str(chen["valid_from"]), "valid_to": None}
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmpdir:
        tmp = Path(tmpdir)
        token = CredentialStore.load(tmp / "creds.json").issue("bench").token
        proc, url = _start_server(tmp, tmp / "creds.json")
        try:
            refs: list[str] = []
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
                for _ in range(sessions):
                    refs.append(c.post("/v1/identity/card", json=card).json()["ref"])
            _load(url, token, 50, lambda i: ("GET", "/health", {}, None), deadline)  # warm-up
            base, base_rps = _load(url, token, sessions,
                                   lambda i: ("GET", "/health", {}, None), deadline)
            lookup, lookup_rps = _load(
                url, token, sessions,
                lambda i: ("GET", "/v1/holder/certificates", {"X-Holder-Ref": refs[i]}, None),
                deadline)
            submit, submit_rps = _load(
                url, token, sessions,
                lambda i: ("POST", "/v1/applications", {}, {
                    "idempotency_key": uuid.uuid4().hex, "matter_id": "housing-fund-print",
                    "holder_ref": refs[i], "kiosk_id": "bench", "form": {},
                    "attachments": [], "delivery": "print"}), deadline)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    common = {"concurrency": CONCURRENCY, "sessions": sessions,
              "server": "uvicorn (1 process) + sqlite", "baseline_rps": round(base_rps, 1),
              "date": dt.date.today().isoformat()}
    return [
        compare("backend.cert_lookup", "ms", lookup, "GET /health (same server, same load)",
                base, rps=round(lookup_rps, 1), **common),
        compare("backend.submit", "ms", submit, "GET /health (same server, same load)", base,
                rps=round(submit_rps, 1), **common),
    ]


BENCHMARKS: dict[str, Callable[[BenchOptions], list[BenchResult]]] = {
    "backend.throughput": throughput,
}
