"""A private PostgreSQL cluster from Debian's binaries for tests (fails, never skips)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """A running throw-away cluster; ``url`` names its ``kiosk`` database."""

    datadir: Path
    port: int
    run_as: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/kiosk"

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m",
                        "immediate", "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_postgres() -> PgCluster:
    """initdb + pg_ctl start on a free loopback port, as the ``postgres`` user when root."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL binaries missing in {PG_BIN} (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
    datadir = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def run(*args: str) -> None:
        proc = subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=120,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {proc.stderr[-2000:]}")

    run(str(PG_BIN / "initdb"), "-D", str(datadir), "-A", "trust", "-U", "postgres",
        "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
    opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
    run(str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-o", opts, "-l", str(root / "log"),
        "-w", "-t", "60", "start")
    cluster = PgCluster(datadir, port, run_as)
    try:
        run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
            "kiosk")
    except Exception:
        cluster.stop()
        raise
    return cluster
