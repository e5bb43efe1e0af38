"""``kiosk config check`` checks the fleet part of the configuration the way ``kiosk run``
does before its agent starts: exit 2 naming the key path, no traceback, no file content."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.cli import main
from kiosk.fleet import keys
from kiosk.fleet.canonical import b64e

PASSWORD = "broker-pw-that-must-not-be-printed"


def _tls_files(folder: Path) -> dict[str, Path]:
    """A self-signed CA and a client certificate with its key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "k1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    files = {"ca": folder / "ca.pem", "cert": folder / "k1.pem", "key": folder / "k1.key"}
    files["ca"].write_bytes(pem)
    files["cert"].write_bytes(pem)
    fd = os.open(files["key"], os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return files


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    """A sound fleet set-up: keys, a 0600 broker account, TLS files."""
    keys.keygen(tmp_path / "keys", 86400)
    creds = tmp_path / "k1.json"
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f'{{"username": "k1", "password": "{PASSWORD}"}}')
    return {"root": tmp_path / "keys" / "root.pub", "creds": creds, **_tls_files(tmp_path)}


def check(tmp_path: Path, fleet: dict[str, str]) -> tuple[int, str]:
    body = ", ".join(f"{k}: '{v}'" for k, v in fleet.items())
    path = tmp_path / "site.yaml"
    path.write_text(f"var_dir: {tmp_path / 'var'}\nkiosk: {{id: k1}}\nfleet: {{{body}}}\n",
                    encoding="utf-8")
    env = {k: None for k in os.environ if k.startswith("KIOSK__")}
    result = CliRunner().invoke(main, ["config", "check", str(path)], env=env)
    out = result.output
    assert "Traceback" not in out and PASSWORD not in out, out
    assert result.exit_code == 0 or "BEGIN" not in out, out  # no key or certificate shown
    return result.exit_code, out


def sound(site: dict[str, Path]) -> dict[str, str]:
    return {"broker_url": "mqtts://127.0.0.1:8883", "trust_root": str(site["root"]),
            "credentials_file": str(site["creds"]), "ca_file": str(site["ca"]),
            "cert_file": str(site["cert"]), "key_file": str(site["key"])}


def test_a_sound_fleet_configuration_passes(tmp_path: Path, site: dict[str, Path]) -> None:
    code, out = check(tmp_path, sound(site))
    assert code == 0 and out.startswith("ok: "), out


def _garbage(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


CASES = {
    "broker url not mqtt": ({"broker_url": "http://broker.example"}, "fleet.broker_url",
                            "expected mqtt://HOST[:PORT]"),
    "broker url port out of range": ({"broker_url": "mqtt://broker.example:70000"},
                                     "fleet.broker_url", "out of range"),
    "trust root missing": ({"trust_root": "{tmp}/nope.pub"}, "fleet.trust_root",
                           "cannot read a public key"),
    "trust root is a signing key": ({"trust_root": "{tmp}/keys/signing.key"},
                                    "fleet.trust_root", "not a root public key"),
    "trust root not a curve point": ({"trust_root": "{not_a_point}"}, "fleet.trust_root",
                                     "not a valid Ed25519 public key"),
    "credentials readable by others": ({"credentials_file": "{creds_0644}"},
                                       "fleet.credentials_file", "chmod 600"),
    "credentials of another user": ({"credentials_file": "{creds_other}"},
                                    "fleet.credentials_file", "owned by another user"),
    "credentials not an account": ({"credentials_file": "{creds_bad}"},
                                   "fleet.credentials_file", "not a credentials file"),
    "credentials missing": ({"credentials_file": "{tmp}/none.json"}, "fleet.credentials_file",
                            "does not exist"),
    "ca file missing": ({"ca_file": "{tmp}/none.pem"}, "fleet.ca_file", "does not exist"),
    "ca file not pem": ({"ca_file": "{garbage_pem}"}, "fleet.ca_file", "not a PEM CA bundle"),
    "client key readable by others": ({"key_file": "{key_0644}"}, "fleet.key_file",
                                      "chmod 600"),
    "client cert without its key": ({"key_file": "{other_key}"}, "fleet.cert_file",
                                    "not a matching PEM certificate"),
    "state dir under a file": ({"state_dir": "{garbage_pem}/fleet"}, "fleet.state_dir",
                               "is not a folder"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_check_names_the_fleet_key(tmp_path: Path, site: dict[str, Path],
                                          name: str) -> None:
    change, key, text = CASES[name]
    creds_other = _garbage(tmp_path / "other.json", f'{{"username": "k1", "password": '
                                                    f'"{PASSWORD}"}}')
    if os.geteuid() == 0:
        os.chown(creds_other, 65534, 65534)  # nobody's
    else:  # a file of root's, readable by all
        creds_other = Path("/etc/passwd")
    other_key = tmp_path / "other"
    other_key.mkdir()
    values = {
        "tmp": str(tmp_path),
        "not_a_point": str(_garbage(tmp_path / "bad.pub", "ed25519:" + b64e(b"\xff" * 32))),
        "creds_0644": str(_garbage(tmp_path / "c644.json", site["creds"].read_text(), 0o644)),
        "creds_other": str(creds_other),
        "creds_bad": str(_garbage(tmp_path / "bad.json", f"password: {PASSWORD}")),
        "garbage_pem": str(_garbage(tmp_path / "garbage.pem", "not a certificate")),
        "key_0644": str(_garbage(tmp_path / "k644.key", site["key"].read_text(), 0o644)),
        "other_key": str(_tls_files(other_key)["key"]),
    }
    fleet = {**sound(site), **{k: v.format(**values) for k, v in change.items()}}
    code, out = check(tmp_path, fleet)
    assert code == 2, out
    lines = [line.strip() for line in out.splitlines()]
    assert any(line.startswith(f"{key}:") and text in line for line in lines), out


def test_the_fleet_is_not_checked_when_it_is_off(tmp_path: Path) -> None:
    code, out = check(tmp_path, {"enabled": "false", "credentials_file": "/nonexistent"})
    assert code == 0, out
