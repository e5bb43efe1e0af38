"""``kiosk bench [NAME ...]``: run benchmarks, one JSON line each."""

from __future__ import annotations

import fnmatch
import importlib
import sys
from collections.abc import Callable

import click

from kiosk.bench.harness import BenchOptions, BenchResult
from kiosk.bench.registry import MODULES

Bench = Callable[[BenchOptions], list[BenchResult]]


def available() -> dict[str, Bench]:
    found: dict[str, Bench] = {}
    for module_name in MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        found.update(module.BENCHMARKS)
    return found


@click.command("bench")
@click.argument("patterns", nargs=-1)
@click.option("--list", "list_only", is_flag=True, help="list benchmark names")
@click.option("--repeat", type=int, default=20, show_default=True)
@click.option("--quick", is_flag=True, help="few samples (smoke run)")
def bench(patterns: tuple[str, ...], list_only: bool, repeat: int, quick: bool) -> None:
    """Run benchmarks matching PATTERNS (glob; default all), one JSON line per result."""
    benches = available()
    chosen = [n for n in sorted(benches) if not patterns
              or any(fnmatch.fnmatch(n, p) for p in patterns)]
    if list_only:
        click.echo("\n".join(chosen))
        return
    if not chosen:
        click.echo(f"no benchmark matches {patterns}", err=True)
        sys.exit(2)
    opts = BenchOptions(repeat=3 if quick else repeat, quick=quick)
    for name in chosen:
        for result in benches[name](opts):
            click.echo(result.json())
            sys.stdout.flush()
