#!/usr/bin/env bash
# Installs (Debian packages) and starts the real servers the storage and broker suites run
# against, then exports their URLs. Source it: `. ci/services.sh`. Idempotent.
#   MLAB_PG_URL    postgres://postgres:postgres@127.0.0.1:5432/meterlab
#   MLAB_MQTT_URL  mqtt://127.0.0.1:18830
set -euo pipefail

need=()
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v mosquitto >/dev/null || need+=(mosquitto)
if [ ${#need[@]} -gt 0 ]; then
  echo "services: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL: the Debian cluster, password auth on loopback.
cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
if [ -z "$cluster" ]; then
  pg_createcluster 15 main >/dev/null
  cluster="15 main"
fi
# shellcheck disable=SC2086
pg_ctlcluster $cluster start 2>/dev/null || true
for _ in $(seq 1 50); do
  su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres';\"" >/dev/null
su postgres -c "psql -qAtc \"SELECT 1 FROM pg_database WHERE datname='meterlab'\"" | grep -q 1 \
  || su postgres -c "psql -qc 'CREATE DATABASE meterlab;'" >/dev/null
export MLAB_PG_URL="postgres://postgres:postgres@127.0.0.1:5432/meterlab"

# Mosquitto: loopback only, no cap on queued QoS 1 messages (the default 1,000 drops messages
# for a lagging subscriber), and a wide in-flight window so the platform can group-commit.
mqtt_dir=${MLAB_SERVICES_DIR:-/tmp/meterlab-services}
mkdir -p "$mqtt_dir"
cat > "$mqtt_dir/mosquitto.conf" <<CONF
listener 18830 127.0.0.1
allow_anonymous true
max_queued_messages 0
max_inflight_messages 1000
persistence false
CONF
if ! (exec 3<>/dev/tcp/127.0.0.1/18830) 2>/dev/null; then
  mosquitto -c "$mqtt_dir/mosquitto.conf" >"$mqtt_dir/mosquitto.log" 2>&1 &
  # Only what this shell started is stopped by `.ci/run` at the end.
  export MLAB_STARTED_MOSQUITTO=$!
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/18830) 2>/dev/null && break
    sleep 0.1
  done
fi
export MLAB_MQTT_URL="mqtt://127.0.0.1:18830"
echo "services: MLAB_PG_URL=$MLAB_PG_URL MLAB_MQTT_URL=$MLAB_MQTT_URL"
