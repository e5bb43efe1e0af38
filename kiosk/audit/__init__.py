"""Append-only, hash-chained, keyed audit log of who/what/when/outcome, without personal data."""

from kiosk.audit.anchor import Head
from kiosk.audit.log import AuditError, AuditLog, AuditRecord
from kiosk.audit.verify import Verification, verify_file

__all__ = ["AuditError", "AuditLog", "AuditRecord", "Head", "Verification", "verify_file"]
