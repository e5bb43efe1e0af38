"""Modules that provide benchmarks (each with a ``BENCHMARKS`` dict); absent ones are skipped
with a note, since a benchmark appears when the work it measures lands."""

MODULES = (
    "kiosk.bench.startup",
    "screens.bench",
    "kiosk.bench.idcard",
    "kiosk.bench.printer",
    "kiosk.bench.qr",
    "kiosk.bench.face",
    "kiosk.backend.bench",
    "kiosk.fleet.bench",
    "kiosk.diag.bench",
)
