"""A wheel built from the repository runs the kiosk outside the checkout: the default config
ships as package data, and every module the simulation profile imports comes from a declared
runtime dependency (or its dependencies). The wheel goes into a fresh venv that sees the
project's .venv packages (no downloads), and runs from an unrelated folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run inside the wheel's venv: start the kiosk, then name every third-party distribution
# whose modules got imported and that the wheel's requirements (and theirs) do not cover.
PROBE = textwrap.dedent('''
    import importlib.metadata as md, json, re, sys
    import kiosk, hardware
    from kiosk.cli import main
    try:
        main(["run", "--profile", "simulation", "--no-ui", "--exit-when-ready"],
             standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            raise
    ours = {"kiosk", "hardware", "screens"}
    def name(req):
        return re.split(r"[ ;<>=!~\\[(]", req, maxsplit=1)[0].lower().replace("_", "-")
    def requires(dist):
        out = set()
        for req in md.distribution(dist).requires or []:
            if "extra ==" not in req:
                out.add(name(req))
        return out
    closure, todo = set(), list(requires("smart-counter-kiosk"))
    while todo:
        dist = todo.pop()
        if dist in closure:
            continue
        closure.add(dist)
        try:
            todo.extend(requires(dist))
        except md.PackageNotFoundError:
            pass
    owners = md.packages_distributions()
    used = set()
    for module in list(sys.modules):
        top = module.split(".")[0]
        if top in ours or top in sys.stdlib_module_names or top.startswith("_"):
            continue
        for dist in owners.get(top, []):
            used.add(dist.lower().replace("_", "-"))
    print(json.dumps({"kiosk": kiosk.__file__, "hardware": hardware.__file__,
                      "used": sorted(used),
                      "undeclared": sorted(d for d in used if d not in closure)}))
''')


def test_wheel_runs_the_simulation_profile_outside_the_checkout(tmp_path: Path) -> None:
    # build from a copy: setuptools writes build/ and egg-info next to the sources
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "test-artifacts", "demo-output",
        "var", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "docs"))
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(dist.glob("smart_counter_kiosk-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in ("kiosk/defaults/default.yaml", "kiosk/defaults/profiles/simulation.yaml",
                 "kiosk/defaults/profiles/production.yaml", "kiosk/defaults/demo/citizens.yaml",
                 "hardware/sim/demo/citizens.yaml", "screens/kv/root.kv"):
        assert data in names, data

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True
                          ).stdout.strip()
    # the project's .venv packages, behind the venv's own (a plain path: its .pth files,
    # such as an editable install of the checkout, are not processed)
    Path(site, "project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                              "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(KIOSK__VAR_DIR=str(elsewhere / "var"), KIVY_NO_ARGS="1")
    probe = subprocess.run([str(python), "-c", PROBE], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=300)
    assert probe.returncode == 0, probe.stderr[-3000:]
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["kiosk"].startswith(site) and report["hardware"].startswith(site)
    assert report["undeclared"] == [], "imported but not a runtime dependency"
    # the probe sees what the profile really imports (the pty simulators, the demo faces)
    assert {"pyserial", "scikit-image", "opencv-python-headless"} <= set(report["used"])
    assert "ready (idcard=online" in probe.stderr

    script = subprocess.run([str(venv / "bin" / "kiosk"), "run", "--profile", "simulation",
                             "--no-ui", "--exit-when-ready"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=300)
    assert script.returncode == 0, script.stderr[-3000:]
    assert "Traceback" not in script.stderr
