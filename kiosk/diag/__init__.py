"""Technician diagnostics: readiness report, counters, host facts, maintenance access,
out-of-service state. Built against :class:`kiosk.diag.protocol.Diagnosable`, the device-model
surface every adapter offers, not against concrete drivers."""
