# The two commands a fresh machine needs: `make demo` and `make test`. Each installs what it
# needs first (OS packages and .venv, via scripts/setup.sh) and is safe to run again.
.PHONY: setup demo test lint pytest bench clean

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/python scripts/demo.py

test: setup lint pytest

lint:
	.venv/bin/ruff check kiosk hardware screens scripts tests
	.venv/bin/mypy

pytest:
	.venv/bin/python -m pytest -q

bench: setup
	scripts/bench

clean:
	rm -rf demo-output var .pytest_cache .mypy_cache .ruff_cache
