"""Typed errors of the fleet package."""

from __future__ import annotations

# why a bundle is refused (reported as ``last_rejection.reason``)
BUNDLE_CODES = ("bad_signature", "untrusted_key", "expired", "old_version", "wrong_scope",
                "invalid_config")
# why a command is refused (``code`` of the answer on ``kiosk/<id>/cmd/result``)
COMMAND_CODES = ("malformed", "bad_signature", "untrusted_key", "expired", "wrong_scope",
                 "replayed", "unknown_command", "busy", "failed")


class Rejected(Exception):
    """A signed document refused; ``code`` is stable and safe to report, ``detail`` is one
    short line for the operator (never personal data)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail[:300]


class OperatorError(Exception):
    """A problem an operator fixes (bad file, option or key); ``where`` names the file, the
    option or the key path. The operator tools print it and exit 2."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message
