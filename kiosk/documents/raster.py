"""PDF -> PNG with poppler's ``pdftoppm`` (demo output, and for people to look at), and PDF ->
text with ``pdftotext`` (to check what a printed document says)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def pdf_to_png(pdf: bytes, out_dir: str | Path, *, stem: str = "page", dpi: int = 100,
               timeout: float = 60.0) -> list[Path]:
    """Render every page; returns the PNG paths in page order."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        raise RuntimeError("pdftoppm not found: install the Debian package poppler-utils")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".pdf") as src:
        src.write(pdf)
        src.flush()
        subprocess.run([exe, "-png", "-r", str(dpi), src.name, str(out / stem)], check=True,
                       capture_output=True, timeout=timeout)
    return sorted(out.glob(f"{stem}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def pdf_text(pdf: bytes, *, timeout: float = 60.0) -> str:
    """The text of every page, laid out as printed (poppler's ``pdftotext -layout``, the PDF
    on its stdin: nothing written to disk)."""
    exe = shutil.which("pdftotext")
    if exe is None:
        raise RuntimeError("pdftotext not found: install the Debian package poppler-utils")
    done = subprocess.run([exe, "-layout", "-", "-"], input=pdf, check=True,
                          capture_output=True, timeout=timeout)
    return done.stdout.decode("utf-8", "replace")
