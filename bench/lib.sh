# Shared by bench/run and bench/symbol-order (sourced, not run). The caller sets ROOT and
# NAME (the prefix of its messages) before sourcing.

die() { echo "$NAME: error: $*" >&2; exit 1; }
log() { echo "$NAME: $*" >&2; }

# The release server on its own, exactly as `cargo build --release` builds it, then the
# driver (an example, with the dev-dependencies). Built together, the driver's
# dev-dependencies could give shared dependencies other features, hence other symbol names
# than bench/symbol-order.txt lists. Sets BIN and DRIVER.
release_binaries() { # BUILD (1: build first, 0: use what is there)
  local target="${CARGO_TARGET_DIR:-$ROOT/target}"
  [[ "$target" = /* ]] || target="$ROOT/$target"
  BIN="$target/release/latchkey"
  DRIVER="$target/release/examples/bench-driver"
  if (($1)); then
    log "building the release binary and the driver (cargo build --release; waits for the cargo lock if another build runs)"
    (cd "$ROOT" && cargo build --release --bin latchkey && cargo build --release --example bench-driver) \
      || die "cargo build --release failed"
  fi
  [[ -x "$BIN" && -x "$DRIVER" ]] || die "$BIN or $DRIVER is missing (build without --skip-build)"
}

# Only loopback PostgreSQL: the benchmark never sends traffic anywhere else. Checks the
# host of the URL and any host=/hostaddr= of its query (libpq takes the host from there too:
# a socket folder or loopback only), then that it answers.
pg_check_local() { # ADMIN_URL
  local url="$1" rest authority hostport host qp v
  [[ "$url" =~ ^postgres(ql)?:// ]] || die "--postgres must be a postgres:// URL"
  rest="${url#*://}"
  authority="${rest%%[/?]*}"
  hostport="${authority##*@}"
  if [[ "$hostport" == \[* ]]; then host="${hostport%%]*}]"; else host="${hostport%%:*}"; fi
  case "$host" in
    ""|localhost|127.*|"[::1]") ;;
    *) die "--postgres must point at this machine (127.0.0.1, localhost or [::1]), not '$host'" ;;
  esac
  if [[ "$rest" == *\?* ]]; then
    local qparams
    IFS='&' read -r -a qparams <<<"${rest#*\?}"
    for qp in "${qparams[@]}"; do
      case "$qp" in
        host=*|hostaddr=*)
          v="${qp#*=}"
          [[ "$v" == /* || "$v" == %2F* || "$v" == localhost || "$v" == 127.* || "$v" == ::1 ]] \
            || die "--postgres must point at this machine, not '$v'"
          ;;
      esac
    done
  fi
  command -v psql >/dev/null || die "psql is needed with --postgres (apt-get install postgresql-client)"
  psql "$url" -qAtc 'SELECT 1' >/dev/null || die "cannot connect to $url"
}

# A new database NAME on the server of ADMIN_URL; prints its URL (the admin URL's scheme,
# authority and query with NAME as the path). The caller drops it with pg_drop_db.
pg_create_db() { # ADMIN_URL NAME
  local url="$1" name="$2" rest scheme authority query=""
  psql "$url" -v ON_ERROR_STOP=1 -qAt -c "CREATE DATABASE \"$name\"" >/dev/null \
    || die "CREATE DATABASE $name failed"
  rest="${url#*://}"
  scheme="${url%%://*}"
  authority="${rest%%[/?]*}"
  [[ "$rest" == *\?* ]] && query="?${rest#*\?}"
  echo "$scheme://$authority/$name$query"
}

pg_drop_db() { # ADMIN_URL NAME
  psql "$1" -v ON_ERROR_STOP=1 -qAt -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" >/dev/null 2>&1 \
    || echo "$NAME: warning: could not drop database $2" >&2
}

# The secret `latchkey clients create` printed (standard input), or an error with its output.
client_secret_of() { # ID
  local out secret
  out="$(cat)"
  secret="$(sed -n 's/^client_secret: //p' <<<"$out")"
  [[ -n "$secret" ]] || { echo "$out" >&2; die "no client_secret printed for $1"; }
  echo "$secret"
}

basic_auth() { # ID SECRET -> the Authorization header value
  printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"
}
