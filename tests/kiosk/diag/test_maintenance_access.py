"""Technician tokens as the maintenance prompt receives them: every freshly issued token is
well formed (a nonce starting with '-' or '_' was refused as malformed, one token in 32)."""

from __future__ import annotations

import nacl.signing

from kiosk.diag.access import issue_token, verify_token

KEY = nacl.signing.SigningKey(b"\x02" * 32)


def test_every_issued_token_verifies() -> None:
    now = 1_750_000_000.0
    for _ in range(400):
        claim = verify_token(issue_token(KEY, "kiosk-m-01", 3600, now), KEY.verify_key,
                             "kiosk-m-01", now)
        assert claim.kiosk == "kiosk-m-01"
