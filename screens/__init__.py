"""The citizen touchscreen (Kivy). Import-time: only environment defaults, no Kivy yet."""

import os

# Kivy reads these at its first import: no command-line parsing of the kiosk's own options,
# no log files in ~/.kivy (they could outlive a session), logging through Python's logging.
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
