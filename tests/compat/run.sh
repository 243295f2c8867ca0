#!/usr/bin/env bash
# Manual compatibility check: starts a throw-away Latchkey on 127.0.0.1, registers a user and
# clients with the CLI, and runs real relying-party libraries against it:
#   node/openid_client_check.mjs   openid-client v6 (panva) + jose
#   python/authlib_check.py        Authlib (+ requests, PyJWT)
# Not part of CI. Needs node (>= 20) with npm, python3 with venv, and the npm / PyPI registries.
#
#   tests/compat/run.sh               # both
#   tests/compat/run.sh node          # one
#   LATCHKEY_BIN=/path/to/latchkey tests/compat/run.sh
#
# Everything it creates lives in a temporary directory that is removed at the end (the npm and
# pip installs are cached in $COMPAT_CACHE, default /tmp/latchkey-compat-cache).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WHICH="${1:-all}"
CACHE="${COMPAT_CACHE:-/tmp/latchkey-compat-cache}"
BIN="${LATCHKEY_BIN:-$ROOT/target/release/latchkey}"
PORT="${COMPAT_PORT:-$((20000 + RANDOM % 20000))}"
RP_PORT=$((PORT + 1))   # nothing listens there: the redirect is only read, never followed

if [[ ! -x "$BIN" ]]; then
    echo "building latchkey (cargo build --release)..." >&2
    (cd "$ROOT" && cargo build --release)
fi

WORK="$(mktemp -d /tmp/latchkey-compat.XXXXXX)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Work on a copy of the binary, so a concurrent `cargo build` cannot swap it mid-run.
cp "$BIN" "$WORK/latchkey"
BIN="$WORK/latchkey"

export LATCHKEY_DATABASE_URL="sqlite://$WORK/latchkey.db?mode=rwc"
export LATCHKEY_MASTER_KEY="$(head -c32 /dev/urandom | base64)"
export LATCHKEY_LISTEN="127.0.0.1:$PORT"
export LATCHKEY_ISSUER="http://localhost:$PORT"
export RUST_LOG="${RUST_LOG:-warn}"
# A short JWKS cache lifetime and key reload, so that the key rotation check (node) can use a
# rotation delay of 65 s: the server never pre-publishes for less than one cache lifetime
# (keys.jwks_max_age + keys.reload_interval, 330 s by default). Server and CLI read these alike.
export LATCHKEY_KEYS__JWKS_MAX_AGE=30
export LATCHKEY_KEYS__RELOAD_INTERVAL=5
ISSUER="$LATCHKEY_ISSUER"
REDIRECT="http://localhost:$RP_PORT/cb"
PASSWORD='correct horse battery'
SECRET_SUFFIX="$(head -c12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"

lk() { "$BIN" "$@" >>"$WORK/cli.log" 2>&1 || { cat "$WORK/cli.log" >&2; exit 1; }; }

"$BIN" migrate >>"$WORK/cli.log" 2>&1
lk users create --username alice --password "$PASSWORD" \
    --email alice@example.com --email-verified --name Alice

# --- dependencies (cached) --------------------------------------------------------------------
setup_node() {
    mkdir -p "$CACHE/node"
    cp "$HERE/node/package.json" "$CACHE/node/package.json"
    if [[ ! -d "$CACHE/node/node_modules/openid-client" ]]; then
        (cd "$CACHE/node" && timeout 300 npm install --no-audit --no-fund --silent)
    fi
    cp "$HERE/node/openid_client_check.mjs" "$CACHE/node/"
}
setup_python() {
    if [[ ! -x "$CACHE/venv/bin/python" ]]; then
        python3 -m venv "$CACHE/venv"
    fi
    timeout 300 "$CACHE/venv/bin/pip" install -q -r "$HERE/python/requirements.txt"
}

# --- clients, one set per library so each goes through login and consent itself ---------------
register() {
    local p="$1" keydir="$2"
    local s="${p}-secret-${SECRET_SUFFIX}"
    lk clients create --id "$p-web" --name "$p web" --secret "$s" --redirect-uri "$REDIRECT"
    lk clients create --id "$p-post" --name "$p post" --secret "$s" --redirect-uri "$REDIRECT" \
        --auth-method client_secret_post
    lk clients create --id "$p-es256" --name "$p es256" --secret "$s" --redirect-uri "$REDIRECT" \
        --id-token-alg ES256 --access-token-alg ES256
    lk clients create --id "$p-eddsa" --name "$p eddsa" --secret "$s" --redirect-uri "$REDIRECT" \
        --id-token-alg EdDSA --access-token-alg EdDSA
    lk clients create --id "$p-spa" --name "$p spa" --public --redirect-uri "$REDIRECT"
    lk clients create --id "$p-svc" --name "$p svc" --secret "$s" \
        --grant-type client_credentials --scope "orders:read orders:write" \
        --audience https://api.example.com --audience https://inventory.example.com
    lk clients create --id "$p-special" --name "$p special" --secret "$p-p@ss+w/rd &=:%41-$SECRET_SUFFIX" \
        --grant-type client_credentials
    lk clients create --id "$p-pkjwt" --name "$p pkjwt" --auth-method private_key_jwt \
        --jwks-file "$keydir/$p-pkjwt.jwks.json" --grant-type client_credentials \
        --scope "orders:read"
}

NODE_RC=0
PY_RC=0
RAN=()
if [[ "$WHICH" == all || "$WHICH" == node ]]; then
    setup_node
    mkdir -p "$WORK/keys"
    (cd "$CACHE/node" && node openid_client_check.mjs --gen-keys "$WORK/keys" node)
    register node "$WORK/keys"
    RAN+=(node)
fi
if [[ "$WHICH" == all || "$WHICH" == python ]]; then
    setup_python
    mkdir -p "$WORK/keys"
    "$CACHE/venv/bin/python" "$HERE/python/authlib_check.py" --gen-keys "$WORK/keys" py
    register py "$WORK/keys"
    RAN+=(python)
fi

cat >"$WORK/config.json" <<EOF
{
  "issuer": "$ISSUER",
  "redirect_uri": "$REDIRECT",
  "username": "alice",
  "password": "$PASSWORD",
  "secret_suffix": "$SECRET_SUFFIX",
  "keys_dir": "$WORK/keys"
}
EOF

# --- server ----------------------------------------------------------------------------------
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    if curl -fsS "$ISSUER/healthz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log" >&2; exit 1; fi
    sleep 0.1
done
curl -fsS "$ISSUER/healthz" >/dev/null

for r in "${RAN[@]}"; do
    echo "=== $r ==="
    case "$r" in
        # The rotation waits longer than openid-client's 60 s JWKS refetch cooldown: the RP
        # must already hold the new key when the server starts signing with it.
        node) export COMPAT_ROTATION_DELAY="${COMPAT_ROTATION_DELAY:-65}"
              export COMPAT_ROTATE_CMD="${COMPAT_ROTATE_CMD-env LATCHKEY_KEYS__ROTATION_DELAY=$COMPAT_ROTATION_DELAY $BIN keys rotate}"
              (cd "$CACHE/node" && timeout 300 node openid_client_check.mjs "$WORK/config.json") || NODE_RC=$? ;;
        python) timeout 300 "$CACHE/venv/bin/python" "$HERE/python/authlib_check.py" "$WORK/config.json" || PY_RC=$? ;;
    esac
done

if [[ -n "${COMPAT_SHOW_SERVER_LOG:-}" ]]; then
    echo "=== server log ==="; cat "$WORK/server.log"
fi
if [[ $NODE_RC -ne 0 || $PY_RC -ne 0 ]]; then
    echo "compat: some checks failed (node rc=$NODE_RC, python rc=$PY_RC)"
    exit 1
fi
echo "compat: all checks passed"
