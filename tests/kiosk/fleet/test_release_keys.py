"""``kiosk ops keygen`` certifies its signing key for releases too (``kiosk-build-release
--key KEYDIR/signing.key``), unless told which purposes; ``certify`` can name ``release``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.appliance import release
from kiosk.cli import main
from kiosk.fleet import bundle, keys
from kiosk.fleet.errors import Rejected


def _signed_release(signer: keys.SigningKey) -> dict[str, object]:
    body = release.manifest("smart-counter-kiosk", "0.2.0", "kiosk",
                            {"requirements.lock": "sha256:" + "0" * 64})
    return release.sign(body, signer)


def test_a_release_signed_with_a_keygen_signing_key_verifies(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ops", "keygen", "--out", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    signer = keys.load_signing_key(tmp_path / "k" / "signing.key")
    root = keys.load_trust_root(tmp_path / "k" / "root.pub")
    got = release.verify(_signed_release(signer), root)
    assert got.version == "0.2.0"
    assert set(signer.cert["body"]["purposes"]) == {"config", "command", "release"}
    # the same key still signs config bundles and commands
    bundle.verify(bundle.sign({}, signer, 1, 60, "kiosk:k1"), root, "k1", "g1")


def test_keygen_can_leave_releases_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ops", "keygen", "--out", str(tmp_path / "k"),
                                       "--purpose", "config", "--purpose", "command"])
    assert result.exit_code == 0, result.output
    signer = keys.load_signing_key(tmp_path / "k" / "signing.key")
    root = keys.load_trust_root(tmp_path / "k" / "root.pub")
    with pytest.raises(release.ReleaseError) as err:
        release.verify(_signed_release(signer), root)
    assert err.value.reason == "untrusted_key" and "may not sign release" in str(err.value)
    bundle.verify(bundle.sign({}, signer, 1, 60, "fleet"), root, "k1", "g1")


def test_certify_a_release_only_key(tmp_path: Path) -> None:
    keys.keygen(tmp_path / "k", 86400)
    out = tmp_path / "release.key"
    result = CliRunner().invoke(main, ["ops", "certify", "--root", str(tmp_path / "k" /
                                                                        "root.key"),
                                       "--out", str(out), "--purpose", "release"])
    assert result.exit_code == 0, result.output
    signer = keys.load_signing_key(out)
    root = keys.load_trust_root(tmp_path / "k" / "root.pub")
    release.verify(_signed_release(signer), root)
    with pytest.raises(Rejected) as err:  # a release key cannot push configuration
        bundle.verify(bundle.sign({}, signer, 1, 60, "fleet"), root, "k1", "g1")
    assert err.value.code == "untrusted_key"
