#!/usr/bin/env bash
# Set up a fresh machine: system packages (Java for the OWL reasoners, Raptor's rapper for the
# interoperability tests) and a virtualenv with kgtool.
# Idempotent; safe to run again. Needs root (or sudo) only when Java or rapper is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v java >/dev/null 2>&1; then
    echo "setup: installing a Java runtime for HermiT/Pellet" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq default-jre-headless >/dev/null
fi

if ! command -v rapper >/dev/null 2>&1; then
    echo "setup: installing Raptor's rapper, an independent RDF parser for the interoperability tests" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq raptor2-utils >/dev/null
fi

if ! command -v chromium >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium, the headless browser of the workbench test (tests/test_serve_browser.py)" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if ! command -v dot >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -q "DejaVu Sans"; then
    echo "setup: installing Graphviz (dot) and the DejaVu fonts for kgtool graph and the README pictures" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq graphviz fonts-dejavu-core >/dev/null
fi

bash scripts/install-virtuoso.sh   # a real SPARQL server for tests/test_virtuoso.py (idempotent)

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
