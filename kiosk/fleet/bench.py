"""Fleet benchmark ``fleet.push``: a signed fleet bundle pushed to N kiosks, until all N have
reported it applied.

N real agents (:class:`~kiosk.fleet.agent.FleetAgent`, each with its own client id, kiosk id,
group and state folder) run many to a process (:mod:`kiosk.fleet.benchworker`) on one broker:
a private mosquitto started for the run, or the broker given (a cluster, see README). Measured
from the operator's push (:meth:`FleetView.push <kiosk.fleet.ops.FleetView.push>`, what
``kiosk ops push`` does) to each kiosk's reported document naming the version: median, p95,
p99 and the last one; the broker's and the agent processes' CPU time over that span and their
peak RSS. Baseline in the same run, the physical limit: the same N reported documents (same
size) published by one plain paho client and received by the same subscriber, the broker's own
round trip. The health window is 0 s here (60 s in the field): it measures delivery,
verification, the merged configuration's validation, the atomic slot switch and the report.
The kiosks' state folders are on tmpfs (``/dev/shm``) by default: each simulated kiosk stands
for a machine with a disk of its own, while N of them on this machine's one disk measure that
disk (ten fsyncs per apply; ``KIOSK_BENCH_FLEET_WORK_DIR=/var/tmp`` to see it).

``kiosk bench fleet.push`` runs N = 500, 1000, 2000 (``--quick``: 100); the environment or
``python -m kiosk.fleet.bench`` choose others (see :class:`FleetBenchSettings`). Goal: 1000
kiosks applied within 5 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.bench.harness import BenchOptions, BenchResult, compare
from kiosk.fleet import keys, topics
from kiosk.fleet.broker import Mosquitto
from kiosk.fleet.bundle import sign
from kiosk.fleet.mqtt import BrokerSettings
from kiosk.fleet.ops import FleetView

SIZES = (500, 1000, 2000)
QUICK_SIZES = (100,)
GOAL = (1000, 5.0)  # kiosks, seconds
GROUPS = 10
# agents per process at most: each has two threads (its worker, its link's network thread),
# and more of them contend for one GIL (1000 agents in 2 processes took 5.2 s, in 4: 2.7 s)
PER_PROCESS = 250
BASELINE = ("the same N reported documents from one plain paho client to the same subscriber "
            "(the broker's round trip)")
ENV = "KIOSK_BENCH_FLEET_"


@dataclass(frozen=True)
class FleetBenchSettings:
    """How the benchmark runs; from ``KIOSK_BENCH_FLEET_*`` or ``python -m kiosk.fleet.bench``.

    ``broker_url`` None starts a private mosquitto; otherwise ``credentials`` is the
    operator's account (JSON ``{username, password}``) and ``kiosk_credentials`` a folder of
    ``<kiosk-id>.json`` accounts (``kiosk ops acl --credentials-dir``; ids ``bench-00001``..).
    """

    sizes: tuple[int, ...] = SIZES
    processes: int = 2  # at least; more when N needs them (PER_PROCESS)
    broker_url: str | None = None
    credentials: str | None = None
    kiosk_credentials: str | None = None
    ca_file: str | None = None
    work_dir: str | None = None

    @classmethod
    def from_env(cls, quick: bool, environ: dict[str, str] | None = None) -> FleetBenchSettings:
        env = dict(os.environ if environ is None else environ)
        sizes = tuple(int(n) for n in env[f"{ENV}N"].split(",")) if env.get(f"{ENV}N") \
            else QUICK_SIZES if quick else SIZES
        return cls(sizes, int(env.get(f"{ENV}PROCESSES", "2")), env.get(f"{ENV}BROKER"),
                   env.get(f"{ENV}CREDENTIALS"), env.get(f"{ENV}KIOSK_CREDENTIALS"),
                   env.get(f"{ENV}CA_FILE"), env.get(f"{ENV}WORK_DIR"))


# -- /proc ---------------------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def peak_rss_mib(pid: int) -> float:
    """The peak resident set (VmHWM) of process ``pid``, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def quantile(samples: list[float], q: int) -> float:
    """The ``q``-th percentile (inclusive method)."""
    if len(samples) < 2:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


# -- the subscriber that sees the fleet ----------------------------------------------------
class Observer:
    """A plain paho subscriber on ``kiosk/+/{reported,status,sync}``: when each kiosk came
    online and finished its snapshot, when its report first named the pushed version, and
    when each baseline message arrived. Arrival times are taken first thing in the callback."""

    def __init__(self, settings: BrokerSettings) -> None:
        self.cond = threading.Condition()
        self.online: set[str] = set()
        self.synced: set[str] = set()
        self.reported: set[str] = set()
        self.applied_at: dict[str, float] = {}
        self.baseline_at: dict[str, float] = {}
        self.version: int | None = None
        self.tag: bytes | None = None
        self.sample: bytes = b""
        self.subscribed = threading.Event()
        c = _client(settings, f"bench-observer-{secrets.token_hex(4)}")
        c.on_connect = lambda cl, *_a: cl.subscribe(
            [("kiosk/+/reported", 1), ("kiosk/+/status", 1), ("kiosk/+/sync", 1)])
        c.on_subscribe = lambda *_a: self.subscribed.set()
        c.on_message = self._message
        self.client = c
        c.connect(settings.host, settings.port, keepalive=60)
        c.loop_start()

    def _message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        kiosk = topics.kiosk_of(msg.topic)
        if kiosk is None:
            return
        payload = bytes(msg.payload)
        with self.cond:
            if msg.topic == topics.reported(kiosk):
                if self.tag is not None and self.tag in payload:
                    self.baseline_at.setdefault(kiosk, now)
                else:
                    self.reported.add(kiosk)
                    self.sample = payload
                    if self.version is not None and kiosk not in self.applied_at \
                            and _fleet_version(payload) == self.version:
                        self.applied_at[kiosk] = now
            elif msg.topic == topics.status(kiosk):
                (self.online.add if payload == topics.ONLINE else self.online.discard)(kiosk)
            elif msg.topic == topics.sync(kiosk):
                self.synced.add(kiosk)
            self.cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _fleet_version(payload: bytes) -> int | None:
    try:
        doc = json.loads(payload)
        version = doc["applied"]["fleet"]["version"]
    except (ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, int) else None


def _client(settings: BrokerSettings, client_id: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                    protocol=mqtt.MQTTv311)
    if settings.username is not None:
        c.username_pw_set(settings.username, settings.password)
    if settings.tls:
        c.tls_set(ca_certs=settings.ca_file)
    return c


# -- agent processes -----------------------------------------------------------------------
@dataclass
class Worker:
    proc: subprocess.Popen[str]
    count: int

    def started(self, timeout: float) -> None:
        line = _readline(self.proc.stdout, timeout)
        if not line.startswith("started"):
            raise RuntimeError(f"bench worker did not start: {line.strip()[:200]!r}")

    def stop(self, timeout: float = 30.0) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.write("stop\n")
                self.proc.stdin.close()
            self.proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(10)


def _readline(stream: IO[str] | None, timeout: float) -> str:
    if stream is None:
        return ""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


def start_workers(ids: list[str], processes: int, var_root: Path, env: dict[str, str],
                  credentials_dir: str | None, log: Path) -> list[Worker]:
    workers = []
    processes = max(processes, -(-len(ids) // PER_PROCESS))
    chunks = [ids[i::processes] for i in range(processes)]
    for n, chunk in enumerate(c for c in chunks if c):
        spec = {"kiosks": [[k, f"g{int(k.rsplit('-', 1)[1]) % GROUPS}"] for k in chunk],
                "var_root": str(var_root), "env": env, "credentials_dir": credentials_dir}
        with (log / f"worker-{n}.log").open("w") as err:
            proc = subprocess.Popen([sys.executable, "-m", "kiosk.fleet.benchworker"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=err, text=True)
        assert proc.stdin is not None  # noqa: S101 - opened with PIPE just above
        proc.stdin.write(json.dumps(spec) + "\n")
        proc.stdin.flush()
        workers.append(Worker(proc, len(chunk)))
    return workers


# -- one run -------------------------------------------------------------------------------
def default_work_dir() -> str | None:
    """tmpfs when there is one (see the module's text), else the system's temp folder."""
    shm = Path("/dev/shm")  # noqa: S108 - only the parent of a mkdtemp (0700) folder
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


def run(n: int, settings: FleetBenchSettings) -> BenchResult:
    """Start ``n`` agents, push one fleet bundle, measure; then the baseline."""
    work = Path(tempfile.mkdtemp(prefix="kiosk-bench-fleet-",
                                 dir=settings.work_dir or default_work_dir()))
    broker: Mosquitto | None = None
    workers: list[Worker] = []
    observer: Observer | None = None
    done = False
    try:
        keys.keygen(work / "keys", 2 * 86400)
        signer = keys.load_signing_key(work / "keys" / "signing.key")
        url = settings.broker_url
        if url is None:
            (work / "broker").mkdir()
            # the observer is one client receiving every report: no cap on its queue
            broker = Mosquitto(work / "broker", config="max_queued_messages 0\n").start()
            url = broker.url
        operator = BrokerSettings.from_url(url, credentials_file=settings.credentials,
                                           ca_file=settings.ca_file)
        observer = Observer(operator)
        if not observer.subscribed.wait(30):
            raise RuntimeError("the observer could not subscribe")
        ids = [f"bench-{i:05d}" for i in range(1, n + 1)]
        env = {"KIOSK__FLEET__BROKER_URL": url,
               "KIOSK__FLEET__TRUST_ROOT": str(work / "keys" / "root.pub"),
               "KIOSK__FLEET__HEARTBEAT_S": "3600", "KIOSK__FLEET__HEALTH_WINDOW_S": "0"}
        if settings.ca_file:
            env["KIOSK__FLEET__CA_FILE"] = settings.ca_file
        t_boot = time.monotonic()
        workers = start_workers(ids, settings.processes, work / "var", env,
                                settings.kiosk_credentials, work)
        for w in workers:
            w.started(60 + n * 0.05)
        everyone = set(ids)
        if not observer.wait(lambda: everyone <= observer.online & observer.synced
                             & observer.reported, 60 + n * 0.05):
            raise RuntimeError(f"of {n} kiosks only {len(observer.online)} came online, "
                               f"{len(observer.reported)} reported, {len(observer.synced)} "
                               f"took their snapshot (logs: {work})")
        boot_s = time.monotonic() - t_boot
        print(f"fleet.push.{n}: {n} kiosks online in {boot_s:.1f} s; pushing", file=sys.stderr,
              flush=True)
        pids = [w.proc.pid for w in workers]
        bundle = sign({"session": {"inactivity_timeout_s": 150}}, signer, 2, 3600, "fleet")
        with FleetView(operator).open() as view:  # what `kiosk ops push` does
            with observer.cond:
                observer.version = 2
            cpu0 = [cpu_s(p) for p in pids]
            broker_cpu0 = cpu_s(broker.proc.pid) if broker and broker.proc else 0.0
            t0 = time.monotonic()
            view.push(bundle)
        observer.wait(lambda: len(observer.applied_at) >= n, 60 + n * 0.03)
        agents_cpu = sum(cpu_s(p) for p in pids) - sum(cpu0)
        broker_cpu = cpu_s(broker.proc.pid) - broker_cpu0 if broker and broker.proc else None
        agents_rss = [peak_rss_mib(p) for p in pids]
        broker_rss = peak_rss_mib(broker.proc.pid) if broker and broker.proc else None
        with observer.cond:
            latencies = [(at - t0) * 1000 for at in observer.applied_at.values()]
            sample = observer.sample
        for w in workers:
            w.stop()
        workers = []
        base, base_cpu = baseline(observer, operator, ids, sample, broker)
        done = True
    finally:
        for w in workers:
            w.stop()
        if observer is not None:
            observer.close()
        if broker is not None:
            broker.stop()
        if done:  # else the workers' and the broker's logs stay for a look
            shutil.rmtree(work, ignore_errors=True)
    if not latencies:
        raise RuntimeError("no kiosk reported the pushed bundle applied")
    last, base_last = max(latencies), max(base)
    extra: dict[str, Any] = {
        "kiosks": n, "applied": len(latencies), "missing": n - len(latencies),
        "p99_ms": round(quantile(latencies, 99), 1), "last_ms": round(last, 1),
        "baseline_p99_ms": round(quantile(base, 99), 1), "baseline_last_ms": round(base_last, 1),
        "ratio_last": round(last / base_last, 2) if base_last else None,
        "agent_processes": len(pids), "agents_cpu_s": round(agents_cpu, 2),
        "agents_cpu_ms_per_kiosk": round(agents_cpu * 1000 / n, 2),
        "agents_peak_rss_mib": round(sum(agents_rss), 1),
        "agents_peak_rss_kib_per_kiosk": round(sum(agents_rss) * 1024 / n, 1),
        "broker": "private mosquitto" if broker else "given",
        "broker_cpu_s": None if broker_cpu is None else round(broker_cpu, 2),
        "broker_peak_rss_mib": None if broker_rss is None else round(broker_rss, 1),
        "baseline_broker_cpu_s": base_cpu, "boot_s": round(boot_s, 1),
        "bundle_bytes": len(bundle), "report_bytes": len(sample),
        "state_on": str(work.parent),
    }
    if n == GOAL[0]:
        extra["goal"] = f"{GOAL[0]} applied within {GOAL[1]:g} s"
        extra["goal_met"] = extra["missing"] == 0 and last <= GOAL[1] * 1000
    return compare(f"fleet.push.{n}", "ms", latencies, BASELINE, base, **extra)


def baseline(observer: Observer, operator: BrokerSettings, ids: list[str], sample: bytes,
             broker: Mosquitto | None) -> tuple[list[float], float | None]:
    """The same N reported documents through the broker from one plain paho client: arrival
    times (ms) from the first publish, and the broker's CPU seconds meanwhile."""
    tag = b'"bench_baseline":"' + secrets.token_hex(8).encode() + b'"'
    body = sample.rstrip()
    payload = body[:-1] + b"," + tag + b"}" if body.endswith(b"}") else tag
    with observer.cond:
        observer.tag = tag
    pub = _client(operator, f"bench-publisher-{secrets.token_hex(4)}")
    pub.max_inflight_messages_set(len(ids))
    pub.connect(operator.host, operator.port, keepalive=60)
    pub.loop_start()
    try:
        cpu0 = cpu_s(broker.proc.pid) if broker and broker.proc else 0.0
        t0 = time.monotonic()
        for kiosk in ids:
            pub.publish(topics.reported(kiosk), payload, qos=1, retain=True)
        observer.wait(lambda: len(observer.baseline_at) >= len(ids), 60 + len(ids) * 0.01)
        cpu = round(cpu_s(broker.proc.pid) - cpu0, 2) if broker and broker.proc else None
    finally:
        pub.disconnect()
        pub.loop_stop()
    with observer.cond:
        arrived = [(at - t0) * 1000 for at in observer.baseline_at.values()]
    if len(arrived) < len(ids):
        raise RuntimeError(f"baseline: only {len(arrived)} of {len(ids)} messages arrived")
    return arrived, cpu


def bench_push(opts: BenchOptions, settings: FleetBenchSettings | None = None) -> list[BenchResult]:
    settings = settings or FleetBenchSettings.from_env(opts.quick)
    return [run(n, settings) for n in settings.sizes]


BENCHMARKS: dict[str, Callable[[BenchOptions], list[BenchResult]]] = {"fleet.push": bench_push}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kiosk.fleet.bench",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--n", type=int, action="append", help="kiosks (repeatable)")
    parser.add_argument("--quick", action="store_true", help=f"N = {QUICK_SIZES[0]}")
    parser.add_argument("--processes", type=int, default=None, help="agent processes")
    parser.add_argument("--broker", default=None, help="mqtt[s]://HOST:PORT (default: a "
                        "private mosquitto)")
    parser.add_argument("--credentials", default=None, help="operator account (JSON)")
    parser.add_argument("--kiosk-credentials", default=None,
                        help="folder of <kiosk-id>.json accounts")
    parser.add_argument("--ca-file", default=None, help="CA bundle for mqtts://")
    args = parser.parse_args(argv)
    settings = FleetBenchSettings.from_env(args.quick)
    settings = replace(settings, sizes=tuple(args.n) if args.n else settings.sizes,
                       processes=args.processes or settings.processes,
                       broker_url=args.broker or settings.broker_url,
                       credentials=args.credentials or settings.credentials,
                       kiosk_credentials=args.kiosk_credentials or settings.kiosk_credentials,
                       ca_file=args.ca_file or settings.ca_file)
    for n in settings.sizes:
        print(run(n, settings).json(), flush=True)


if __name__ == "__main__":
    main()
