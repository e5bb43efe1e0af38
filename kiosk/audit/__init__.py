"""Append-only, hash-chained audit log of who/what/when/outcome, without personal data."""

from kiosk.audit.log import AuditError, AuditLog, AuditRecord

__all__ = ["AuditError", "AuditLog", "AuditRecord"]
