"""PDF -> PNG with poppler's ``pdftoppm`` (demo output, and for people to look at)."""

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
