#!/bin/bash
# asyncps container health check (no extra packages: bash's /dev/tcp).
# Server: healthy when the ready file (ASYNCPS_READY_FILE, written by asyncps-server once every
# shard is bound) lists endpoints and each tcp:// endpoint accepts a connection on this host.
# Any other role (worker, report): healthy while it runs (exit 0).
set -u
# The role is in PID 1's command line (tini -- asyncps-server ... | tini -- asyncps-launch server ...).
if ! tr '\0' ' ' < /proc/1/cmdline 2>/dev/null | grep -Eq 'asyncps-server|asyncps-launch server'; then
  exit 0
fi
ready=${ASYNCPS_READY_FILE:-/tmp/asyncps-ready}
if [[ ! -s $ready ]]; then
  echo "unhealthy: ready file $ready not written yet (shards not bound)"
  exit 1
fi
while read -r endpoint; do
  [[ -z $endpoint ]] && continue
  case $endpoint in
    tcp://*)
      port=${endpoint##*:}
      if ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/${port}" 2>/dev/null; then
        echo "unhealthy: nothing accepts connections on port ${port} (${endpoint})"
        exit 1
      fi ;;
    ipc://*)
      [[ -S ${endpoint#ipc://} ]] || { echo "unhealthy: no socket ${endpoint}"; exit 1; } ;;
  esac
done < "$ready"
echo "healthy: $(tr '\n' ' ' < "$ready")"
exit 0
