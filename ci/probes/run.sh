#!/usr/bin/env bash
# The outside probes against a built `meterlab` binary (see ci/probes/README.md):
#   schemathesis   GET /openapi.json fuzzed with and without the admin token
#   durability     kill -9 during uploads (REST, and MQTT via an external broker) and ESP onboarding
# on SQLite, and on PostgreSQL when MLAB_PG_URL is set (`. ci/services.sh` sets it); and once:
#   certify        the certification kit's junit.xml (junitparser), report.json (certify verify)
#                  and report.html (headless Chromium, installed here with apt where it can)
#
#   ci/probes/run.sh [all|schemathesis|durability|certify]
#
# Builds nothing: MLAB_BIN (default target/debug/meterlab) must exist. Sets up its own venv
# (ci/probes/.venv, pinned by requirements.txt). Exit 0 only when every probe passed.
# Knobs: MLAB_PROBE_SEED, MLAB_PROBE_EXAMPLES, MLAB_PROBE_ROUNDS, MLAB_PROBE_MQTT
# (mqtt://HOST:PORT or none; default $MLAB_MQTT_URL), MLAB_PROBE_OUT, MLAB_PROBE_VENV,
# MLAB_PYTHON (python3.11 or newer), MLAB_PROBE_KEEP_DB=1.
set -uo pipefail
cd "$(dirname "$0")/../.."

what=${1:-all}
case "$what" in all | schemathesis | durability | certify) ;; *)
  echo "usage: ci/probes/run.sh [all|schemathesis|durability|certify]" >&2
  exit 2
  ;;
esac
probes=ci/probes
export MLAB_BIN=${MLAB_BIN:-target/debug/meterlab}
export MLAB_PROBE_OUT=${MLAB_PROBE_OUT:-$PWD/$probes/out}
venv=${MLAB_PROBE_VENV:-$probes/.venv}
py=${MLAB_PYTHON:-python3}

if [ ! -x "$MLAB_BIN" ]; then
  echo "probes: no meterlab binary at $MLAB_BIN; build it first: cargo build --locked -p scenarios" >&2
  exit 2
fi
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "probes: $py is missing or older than Python 3.11 (set MLAB_PYTHON)" >&2
  exit 2
fi

# The venv: made once, remade when requirements.txt changes.
want=$(sha256sum "$probes/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "probes: setting up $venv (PyPI, pinned)"
  rm -rf "$venv"
  "$py" -m venv "$venv" || exit 2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$probes/requirements.txt" || exit 2
  echo "$want" >"$venv/.requirements.sha256"
fi
vpy="$venv/bin/python"

rm -rf "$MLAB_PROBE_OUT"
mkdir -p "$MLAB_PROBE_OUT"
echo "probes: binary $MLAB_BIN ($(stat -c '%y' "$MLAB_BIN" | cut -d. -f1)), reports under $MLAB_PROBE_OUT"

stores=(sqlite)
if [ -n "${MLAB_PG_URL:-}" ]; then
  stores+=(postgres)
elif [ "$what" != certify ]; then
  echo
  echo "################################################################"
  echo "SKIPPED: PostgreSQL probes (MLAB_PG_URL unset)"
  echo "################################################################"
fi
mqtt=${MLAB_PROBE_MQTT:-${MLAB_MQTT_URL:-none}}
if [ "$what" != schemathesis ] && [ "$what" != certify ] && [ "$mqtt" = none ]; then
  echo
  echo "################################################################"
  echo "SKIPPED: MQTT uploads in the durability probe (MLAB_MQTT_URL unset)"
  echo "################################################################"
fi

results=()
passed=0
failed=0
run() { # name, command...
  local name=$1 start=$SECONDS rc
  shift
  printf '\n=== probe %s (%s)\n' "$name" "$(date -u +%H:%M:%S)"
  "$@"
  rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    results+=("$(printf '%-26s PASS %4d s' "$name" $((SECONDS - start)))")
  else
    failed=$((failed + 1))
    results+=("$(printf '%-26s FAIL %4d s (exit %d)' "$name" $((SECONDS - start)) $rc)")
  fi
}

# The browser for report.html: a Debian package, installed where apt can (CI runs as root).
if [ "$what" = all ] || [ "$what" = certify ]; then
  if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "probes: installing chromium (Debian) for report.html"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || echo "probes: chromium could not be installed; the certify probe will say SKIPPED for it"
  fi
  run "certify" "$vpy" "$probes/certify_probe.py"
fi

for store in "${stores[@]}"; do
  [ "$what" = certify ] && break
  if [ "$what" != durability ]; then
    run "schemathesis/$store" "$vpy" "$probes/schemathesis_probe.py" --store "$store"
  fi
  if [ "$what" != schemathesis ]; then
    run "durability/$store" "$vpy" "$probes/durability_probe.py" --store "$store" --mqtt "$mqtt"
  fi
done

echo
echo "=== probes summary"
printf '  %s\n' "${results[@]}"
echo "probes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
