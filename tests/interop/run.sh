#!/usr/bin/env bash
# Interop tests: independent OAuth2 and JWT implementations (authlib, oauthlib, PyJWT and Open
# edX's edx-drf-extensions) against the real `latchkey` binary, and test_flood.py: a sign-in flood
# from one address at the default argon2id cost while another address signs in (~20 s), and
# test_cluster*.py: three nodes on a private PostgreSQL cluster (initdb, as user postgres when run
# as root) behind latchkey-guard's example service (~1 min).
# Builds nothing: it runs $LATCHKEY_BIN, by default target/debug/latchkey, and $LATCHKEY_GUARD_BIN,
# by default the examples/protected beside it (so run `cargo build -p latchkey` and
# `cargo build -p latchkey-guard --example protected` first).
# The Python packages go into a venv at $LATCHKEY_VENV (default /tmp/latchkey-interop-venv),
# made when missing and brought up to tests/interop/requirements.txt when that file changes.
# Extra arguments go to pytest (e.g. `bash tests/interop/run.sh -k edx -x`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${LATCHKEY_VENV:-/tmp/latchkey-interop-venv}"
REQUIREMENTS="$ROOT/tests/interop/requirements.txt"
export LATCHKEY_BIN="${LATCHKEY_BIN:-$ROOT/target/debug/latchkey}"

if [ ! -x "$LATCHKEY_BIN" ]; then
    echo "interop: no latchkey binary at $LATCHKEY_BIN; run 'cargo build -p latchkey' first" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
stamp="$VENV/.latchkey-interop-requirements"
wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
    echo "$wanted" > "$stamp"
fi

cd "$ROOT"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/interop "$@"
