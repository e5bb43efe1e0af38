"""Signed releases: a wheelhouse, its locked requirements and a signed manifest, in one tar.

``<name>-<version>.tar`` holds ``release.json``, ``requirements.lock`` (every wheel pinned
with its ``--hash``) and ``wheels/*.whl``. ``release.json`` is
``{"body": BODY, "cert": CERT, "sig": B64}`` exactly like a config bundle
(:mod:`kiosk.fleet.bundle`): the same root of trust (``root.pub``), a signing key the root
certified, here for the purpose ``release``, and an Ed25519 signature over the canonical
encoding of ``BODY``::

    BODY = {"format": "kiosk-release/1", "purpose": "release", "name": "smart-counter-kiosk",
            "version": "0.2.0", "built_at": T, "entry": "kiosk",
            "files": {"requirements.lock": "sha256:...", "wheels/x.whl": "sha256:..."}}

Unpacking checks the signature first, then takes only the listed members, regular files
under plain relative names, each against its hash; anything else refuses the release.
Overlap with :mod:`kiosk.fleet`: the key files, certificates and canonical JSON are the
fleet's (:mod:`kiosk.fleet.keys`, :mod:`kiosk.fleet.canonical`); only the manifest is ours.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import nacl.exceptions
import nacl.signing

from kiosk.fleet.canonical import NotCanonical, b64d, b64e, canonical, strict_loads
from kiosk.fleet.errors import Rejected
from kiosk.fleet.keys import SigningKey, trusted_signer

FORMAT = "kiosk-release/1"
PURPOSE = "release"
MANIFEST = "release.json"
LOCK = "requirements.lock"
MAX_MANIFEST = 1024 * 1024
MAX_MEMBER = 1024 * 1024 * 1024
VERSION = re.compile(r"\d{1,6}(\.\d{1,6}){1,3}")
_MEMBER = re.compile(r"(requirements\.lock|wheels/[A-Za-z0-9_.+-]{1,200}\.whl)")


class ReleaseError(Exception):
    """A release that cannot be used; ``reason`` is a short key, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def version_key(version: str) -> tuple[int, ...]:
    if not VERSION.fullmatch(version):
        raise ReleaseError("bad_version", f"version {version[:40]!r} is not N.N.N")
    return tuple(int(p) for p in version.split("."))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class Release:
    """A release whose signature and certificate were checked."""

    name: str
    version: str
    entry: str
    files: dict[str, str]
    built_at: int
    document: dict[str, Any]

    @property
    def key(self) -> tuple[int, ...]:
        return version_key(self.version)


def sign(body: dict[str, Any], signer: SigningKey) -> dict[str, Any]:
    return {"body": body, "cert": signer.cert,
            "sig": b64e(signer.key.sign(canonical(body)).signature)}


def manifest(name: str, version: str, entry: str, files: dict[str, str]) -> dict[str, Any]:
    version_key(version)
    return {"format": FORMAT, "purpose": PURPOSE, "name": name, "version": version,
            "built_at": int(time.time()), "entry": entry, "files": dict(sorted(files.items()))}


def verify(document: object, root: nacl.signing.VerifyKey, now: float | None = None) -> Release:
    """The release ``document`` (parsed ``release.json``) names, if ``root`` vouches for it."""
    if not isinstance(document, dict) or set(document) != {"body", "cert", "sig"}:
        raise ReleaseError("bad_manifest", "release.json is not a signed release manifest")
    try:
        signer = trusted_signer(document["cert"], root, PURPOSE,
                                time.time() if now is None else now)
    except Rejected as exc:
        raise ReleaseError("untrusted_key", str(exc)) from None
    body = document["body"]
    try:
        signer.verify(canonical(body), b64d(document["sig"]))
    except (nacl.exceptions.BadSignatureError, NotCanonical, ValueError, TypeError):
        raise ReleaseError("bad_signature", "the release signature does not verify") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT \
            or body.get("purpose") != PURPOSE:
        raise ReleaseError("bad_manifest", "not a kiosk-release/1 manifest")
    files = body.get("files")
    fields = (body.get("name"), body.get("version"), body.get("entry"))
    if not isinstance(files, dict) or not all(isinstance(f, str) for f in fields) \
            or LOCK not in files or not all(isinstance(v, str) for v in files.values()) \
            or not all(_MEMBER.fullmatch(k) for k in files) \
            or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", str(body.get("entry"))):
        raise ReleaseError("bad_manifest", "the manifest's name, version, entry or files "
                                           "are malformed")
    version_key(str(body["version"]))
    return Release(str(body["name"]), str(body["version"]), str(body["entry"]), dict(files),
                   int(body.get("built_at", 0)), document)


def read_manifest(tar_path: Path) -> object:
    try:
        with tarfile.open(tar_path, "r:") as tar:
            member = tar.getmember(MANIFEST)
            if not member.isfile() or member.size > MAX_MANIFEST:
                raise ReleaseError("bad_manifest", "release.json is not a small regular file")
            fh = tar.extractfile(member)
            if fh is None:
                raise ReleaseError("bad_manifest", "release.json is not a regular file")
            return strict_loads(fh.read(), MAX_MANIFEST)
    except KeyError:
        raise ReleaseError("bad_manifest", f"{tar_path.name}: no release.json in it") from None
    except (tarfile.TarError, OSError) as exc:
        raise ReleaseError("unreadable", f"{tar_path}: not a release tar ({exc})") from None
    except NotCanonical as exc:
        raise ReleaseError("bad_manifest", f"release.json: {exc}") from None


def unpack(tar_path: Path, release: Release, into: Path) -> None:
    """Extract exactly the manifest's files into ``into``, each checked against its hash."""
    seen: set[str] = set()
    with tarfile.open(tar_path, "r:") as tar:
        for member in tar.getmembers():
            name = member.name
            if name in (MANIFEST, "wheels") or name.rstrip("/") == "wheels":
                continue
            if name not in release.files or not member.isfile() or member.size > MAX_MEMBER \
                    or PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts:
                raise ReleaseError("bad_member", f"{name[:80]!r} is not part of the release")
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                raise ReleaseError("bad_archive", f"{member.name}: not a regular file")
            with target.open("wb") as out:
                for block in iter(lambda: source.read(1 << 20), b""):  # noqa: B023
                    out.write(block)
            if sha256_file(target) != release.files[name]:
                raise ReleaseError("hash_mismatch", f"{name}: content does not match the "
                                                    "signed manifest")
            seen.add(name)
    missing = sorted(set(release.files) - seen)
    if missing:
        raise ReleaseError("bad_member", f"missing from the tar: {', '.join(missing[:3])}")
