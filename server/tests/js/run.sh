#!/usr/bin/env bash
# Installs the chromadb npm client (3.5.x) here, starts the chromite binary on
# a free loopback port with a temp data dir, runs compat.test.mjs, stops it.
# Binary: $CHROMITE_BIN, else $CARGO_TARGET_DIR/debug/chromite, else target/debug/chromite.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
bin="${CHROMITE_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/chromite}"
[ -x "$bin" ] || { echo "chromite binary not found at $bin (cargo build -p chromite-server)"; exit 1; }
cd "$here"
npm install --no-audit --no-fund --silent
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
"$bin" run --path "$data" --host 127.0.0.1 --port "$port" > "$data.log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$data.log"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  node -e "fetch('http://127.0.0.1:$port/api/v2/heartbeat').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && break
  sleep 0.1
done
CHROMITE_URL="http://127.0.0.1:$port" node --test compat.test.mjs
