"""``kiosk-build-release`` (``scripts/build-release``): a signed, versioned, offline release.

Builds the project's wheel, collects the wheels of its locked dependencies (the exact versions
installed in the environment the tests ran in, or a given ``--requirements`` lock), writes
``requirements.lock`` with every wheel's hash, signs the manifest with a fleet signing key
certified for ``release`` and packs ``<name>-<version>.tar`` (:mod:`kiosk.appliance.release`).
The kiosk installs it without a network: ``pip --no-index --require-hashes``.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

import click

from kiosk.appliance.release import LOCK, MANIFEST, ReleaseError, manifest, sha256_file, sign
from kiosk.fleet.canonical import canonical
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.keys import load_signing_key

_WHEEL = re.compile(r"(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.+!]+)-.+\.whl")


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"pip {args[0]} failed: {done.stderr.strip()[-800:]}")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_closure(requirements: list[str]) -> dict[str, str]:
    """``{name: version}`` of the installed distributions ``requirements`` pull in."""
    from packaging.requirements import Requirement

    pinned: dict[str, str] = {}
    todo = list(requirements)
    while todo:
        req = Requirement(todo.pop())
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = normal(req.name)
        if key in pinned:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise click.ClickException(f"{req.name} is required but not installed here; "
                                       "install it or give --requirements") from None
        pinned[key] = dist.version
        todo += dist.requires or []
    return pinned


def build(project: Path, key_file: Path, out: Path, entry: str,
          requirements: Path | None) -> Path:
    signer = load_signing_key(key_file)
    with tempfile.TemporaryDirectory(prefix="kiosk-release-") as tmp:
        wheels = Path(tmp) / "wheels"
        _pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels),
             str(project))
        built = sorted(wheels.glob("*.whl"))
        if len(built) != 1 or not (match := _WHEEL.fullmatch(built[0].name)):
            raise click.ClickException(f"expected one wheel from {project}, got "
                                       f"{[p.name for p in built]}")
        name, version = match.group("name"), match.group("version")
        if requirements is not None:
            pins = [line.split("#")[0].strip() for line in
                    requirements.read_text(encoding="utf-8").splitlines()]
            pins = [p for p in pins if p]
            loose = [p for p in pins if "==" not in p]
            if loose:
                raise click.ClickException(f"{requirements}: not pinned: {loose[0]}")
        else:
            wheel_meta = _wheel_requires(built[0])
            pins = [f"{n}=={v}" for n, v in sorted(installed_closure(wheel_meta).items())]
        if pins:
            lock_in = Path(tmp) / "pins.txt"
            lock_in.write_text("\n".join(pins) + "\n", encoding="utf-8")
            _pip("download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(wheels),
                 "-r", str(lock_in))
        files: dict[str, str] = {}
        lines = []
        for wheel in sorted(wheels.glob("*.whl")):
            m = _WHEEL.fullmatch(wheel.name)
            if m is None:  # the glob and the pattern disagree: not a wheel name
                raise ValueError(f"{wheel.name}: not a wheel file name")
            digest = sha256_file(wheel)
            files[f"wheels/{wheel.name}"] = digest
            lines.append(f"{m.group('name')}=={m.group('version')} "
                         f"--hash=sha256:{digest.removeprefix('sha256:')}")
        lock = Path(tmp) / LOCK
        lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
        files[LOCK] = sha256_file(lock)
        try:
            document = sign(manifest(normal(name), version, entry, files), signer)
        except ReleaseError as exc:
            raise click.ClickException(str(exc)) from None
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"{normal(name)}-{version}.tar"
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:", format=tarfile.PAX_FORMAT) as tar:
            data = canonical(document) + b"\n"
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
            tar.add(lock, arcname=LOCK)
            for wheel in sorted(wheels.glob("*.whl")):
                tar.add(wheel, arcname=f"wheels/{wheel.name}")
        partial.replace(target)
        return target


def _wheel_requires(wheel: Path) -> list[str]:
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode("utf-8")
    return [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:")]


@click.command("build-release")
@click.option("--project", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("."), show_default=True, help="the source tree to build")
@click.option("--key", "key_file", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="a fleet signing key certified for 'release' (kiosk ops keygen)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("dist"),
              show_default=True)
@click.option("--entry", default="kiosk", show_default=True,
              help="the console script the service starts")
@click.option("--requirements", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="a pinned lock to use instead of this environment's versions")
def main(project: Path, key_file: Path, out: Path, entry: str,
         requirements: Path | None) -> None:
    """Build a signed release tar of PROJECT."""
    try:
        target = build(project, key_file, out, entry, requirements)
    except OperatorError as exc:
        click.echo(f"build-release: {exc}", err=True)
        sys.exit(2)
    click.echo(str(target))


if __name__ == "__main__":  # pragma: no cover
    main()
