"""Private files and folders: the helpers live in :mod:`hardware.files` (the printer's journal
and emulator need them, and ``hardware`` imports nothing from ``kiosk``); the core imports
them from there or by this name."""

from __future__ import annotations

from hardware.files import PRIVATE_DIR, PRIVATE_FILE, private_dir, private_file, write_private

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "private_dir", "private_file", "write_private"]
