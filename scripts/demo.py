#!/usr/bin/env python3
"""``make demo``: run the kiosk with every device simulated.

With a display it opens the kiosk fullscreen (the simulation dock is on F12). Without one
(a headless server) it plays one citizen completing one certificate-free matter under Xvfb,
in Chinese and in English, and writes to ``demo-output/``:

- ``<lang>/NN-<step>.png``: a screenshot of every step of the walkthrough;
- ``printed/<lang>-job-N.pdf`` and ``.png``: the documents the printer emulator received
  through a real cupsd queue.

Each language runs in its own process, since Kivy opens one window per process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LANGS = ("zh_CN", "en")


def walkthrough(lang: str, out: Path) -> dict[str, object]:
    """Play the personal journey in ``lang``; save screenshots and printed documents."""
    from kiosk.documents import pdf_to_png
    from screens.testing import KioskDriver
    from screens.walkthrough import personal_journey

    shots = out / lang
    printed = out / "printed"
    printed.mkdir(parents=True, exist_ok=True)
    with KioskDriver(artifacts=shots, width=1080, height=1920) as ui:
        result = personal_journey(ui, lang)
        world = ui.core.simulation  # the printer simulator, through its control socket
        jobs = []
        if world is not None and world.has("printer") and world.wait_printed(1, 30):
            for n, job in enumerate(world.printed(), 1):
                pdf = out / "printed" / f"{lang}-job-{n}.pdf"
                shutil.copyfile(job, pdf)
                pdf_to_png(pdf.read_bytes(), printed, stem=pdf.stem, dpi=110)
                jobs.append(str(pdf.relative_to(out)))
        result["printed_jobs"] = jobs
        result["screenshots"] = sorted(str(p.relative_to(out)) for p in shots.glob("*.png"))
        result["devices"] = ui.core.summary()
        result["frame_gaps"] = {**ui.frames.summary(), "render_s": ui.render_s}
    return result


def headless(out: Path) -> int:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    failures = 0
    for lang in LANGS:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, __file__, "--walkthrough", lang, "--out", str(out)],
            cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        report = out / f"{lang}.json"
        if proc.returncode != 0 or not report.exists():
            failures += 1
            sys.stderr.write(proc.stderr[-4000:])
            print(f"demo: the {lang} walkthrough failed (exit {proc.returncode})")
            continue
        data = json.loads(report.read_text(encoding="utf-8"))
        print(f"demo: {lang}: application {data.get('application_no')} "
              f"({data.get('state')}), {len(data['screenshots'])} screenshots, "
              f"printed {data['printed_jobs']} in {time.monotonic() - started:.0f} s")
    print(f"demo: screenshots and printed documents are in {out}/")
    for path in sorted(out.rglob("*")):
        if path.suffix in (".png", ".pdf"):
            print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 1 if failures else 0


def interactive() -> int:
    cmd = [sys.executable, "-m", "kiosk.cli", "run", "--profile", "simulation"]
    print("demo: the kiosk opens fullscreen; F12 shows the simulation dock (cards, codes, "
          "faces, printer paper, backend). Close with Ctrl+C in this terminal.")
    return subprocess.call(cmd, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output")
    parser.add_argument("--headless", action="store_true",
                        help="play the walkthrough even when a display is present")
    parser.add_argument("--walkthrough", metavar="LANG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    if args.walkthrough:
        result = walkthrough(args.walkthrough, args.out)
        (args.out / f"{args.walkthrough}.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        return 0
    if os.environ.get("DISPLAY") and not args.headless:
        return interactive()
    return headless(args.out)


if __name__ == "__main__":
    sys.exit(main())
