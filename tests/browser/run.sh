#!/usr/bin/env bash
# Browser tests: Latchkey's login, cookie, CSRF, CORS and authorization code flows in headless
# Chromium, driven by playwright-core under Node's own test runner (node:test). Each test file
# starts the real `latchkey` binary on a free port in a temporary folder (harness.mjs), with the
# small sites around it (an MFE, a client's redirect target, forging pages).
# Builds nothing: it runs $LATCHKEY_BIN, by default target/debug/latchkey (so run
# `cargo build -p latchkey` first).
# What is missing is installed: Debian's chromium (apt-get, as root) and the locked npm packages
# (npm ci). A missing piece that cannot be installed fails the run; nothing is skipped.
# The screenshots of the pages land in tests/browser/screenshots/ (not committed).
# Extra arguments go to `node --test` (e.g. `bash tests/browser/run.sh --test-name-pattern CORS`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export LATCHKEY_BIN="${LATCHKEY_BIN:-$ROOT/target/debug/latchkey}"
export LATCHKEY_CHROMIUM="${LATCHKEY_CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$LATCHKEY_BIN" ]; then
    echo "browser: no latchkey binary at $LATCHKEY_BIN; run 'cargo build -p latchkey' first" >&2
    exit 1
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
    echo "browser: Node.js 20 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2
    exit 1
fi

if [ ! -x "$LATCHKEY_CHROMIUM" ]; then
    if [ "$LATCHKEY_CHROMIUM" != /usr/bin/chromium ] || [ "$(id -u)" -ne 0 ]; then
        echo "browser: no Chromium at $LATCHKEY_CHROMIUM; install it (as root: apt-get install -y chromium)" >&2
        exit 1
    fi
    echo "browser: installing Debian's chromium" >&2
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2
fi

# npm ci again whenever the lock file changed since the last install.
stamp="$HERE/node_modules/.latchkey-lock"
wanted="$(sha256sum "$HERE/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$wanted" > "$stamp"
fi

# The scenario files (each starts its own server and browser).
SCENARIOS=(
    harness.test.mjs
    code_flow.test.mjs
    jwt_cookies.test.mjs
    csrf.test.mjs
    redirect_uri.test.mjs
    cors.test.mjs
    pages.test.mjs
    webview.test.mjs
)

cd "$HERE"
rm -rf screenshots
# One file at a time: each starts a server and a browser, and the machine has two cores.
exec node --test --test-concurrency=1 --test-reporter=spec "$@" "${SCENARIOS[@]}"
