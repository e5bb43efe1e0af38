"""Modules that provide benchmarks (each with a ``BENCHMARKS`` dict); absent ones are skipped
with a note, since a benchmark appears when the work it measures lands."""

MODULES = (
    "kiosk.bench.startup",
    "hardware.idcard.bench",
    "hardware.printer.bench",
    "hardware.qr.bench",
    "hardware.camera.bench",
    "kiosk.backend.bench",
)
