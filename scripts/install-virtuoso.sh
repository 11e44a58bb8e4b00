#!/usr/bin/env bash
# Install OpenLink Virtuoso 7 from Debian for kgtool's SPARQL server tests (tests/test_virtuoso.py).
#
# The tests start a private instance of their own (temporary database, ports on 127.0.0.1), so only
# the server binary and isql are needed: Debian's `virtuoso-minimal` (virtuoso-opensource-7-bin) has
# them, without a system service and without the debconf prompt for a DBA password. Where it is not
# available the full `virtuoso-opensource` package is installed with that password preseeded (the
# system service it starts is not used by kgtool).
#
# Idempotent and non-interactive; needs root (or sudo) only when Virtuoso is missing.
set -euo pipefail

have_isql() { command -v isql-vt >/dev/null 2>&1 || command -v isql-v >/dev/null 2>&1; }
if command -v virtuoso-t >/dev/null 2>&1 && have_isql; then
    exit 0
fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "setup: installing Virtuoso for the SPARQL server tests" >&2
$SUDO apt-get update -qq
if apt-cache show virtuoso-minimal >/dev/null 2>&1; then
    $SUDO apt-get install -y -qq --no-install-recommends virtuoso-minimal >/dev/null
else
    password="${KGTOOL_VIRTUOSO_DBA_PASSWORD:-dba}"
    printf '%s\n' \
        "virtuoso-opensource-7 virtuoso-opensource-7/dba-password password $password" \
        "virtuoso-opensource-7 virtuoso-opensource-7/dba-password-again password $password" \
        | $SUDO debconf-set-selections
    $SUDO apt-get install -y -qq --no-install-recommends virtuoso-opensource >/dev/null
fi

if ! command -v virtuoso-t >/dev/null 2>&1 || ! have_isql; then
    echo "setup: Virtuoso was installed but virtuoso-t or isql-vt is not on PATH" >&2
    exit 1
fi
# `virtuoso-t -?` prints its version and exits 1: keep that status out of pipefail.
{ virtuoso-t -? 2>&1 || true; } | sed -n 2p >&2
