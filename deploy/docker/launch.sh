#!/bin/bash
# asyncps-launch ROLE [FLAGS...]: runs asyncps-ROLE (server | worker | report | any asyncps-* name)
# after deriving, from the orchestrator, what a replicated container cannot be told one by one.
# Everything is optional; flags and ASYNCPS_* variables given explicitly always win.
#
#   ASYNCPS_LAUNCH_INDEX_FROM   where this replica's index comes from:
#       hostname  trailing number of the host name, 0-based (Kubernetes StatefulSet: shard-3 -> 3)
#       compose   trailing number of the container's name, 1-based, minus 1 (docker compose
#                 replicas: myproj_shard_1 / myproj-shard-1 -> 0), read by reverse DNS
#       job       JOB_COMPLETION_INDEX (Kubernetes indexed Job)
#       slot      ASYNCPS_LAUNCH_SLOT, 1-based, minus 1 (Docker Swarm: "{{.Task.Slot}}")
#     server: the index becomes ASYNCPS_FIRST_SHARD; worker: ASYNCPS_WORKER_INDEX.
#   ASYNCPS_LAUNCH_SERVERS_PATTERN   builds ASYNCPS_SERVERS (when unset) for shards
#       0..ASYNCPS_NUM_SHARDS-1: {i} is the shard index, {n} the 1-based replica number,
#       {project} and {sep} the compose project name and separator (compose mode only).
#       Kubernetes: tcp://shard-{i}.shard:5555   compose: tcp://{project}{sep}shard{sep}{n}:5555
#   ASYNCPS_REPORT_JSON may contain {i} (replaced by the index): one report file per worker.
#
# asyncps-launch wait-servers: instead of running a binary, waits until every tcp:// endpoint of
# ASYNCPS_SERVERS (or the pattern) accepts a connection, for at most ASYNCPS_LAUNCH_WAIT_TIMEOUT
# seconds (default 600); exit 0 when all do, 1 on timeout (an init container's job).
set -euo pipefail

die() { echo "asyncps-launch: $*" >&2; exit 2; }
[[ $# -ge 1 ]] || die "usage: asyncps-launch server|worker|report|<binary> [flags...]"
role=$1; shift
case $role in
  server|worker|report|keygen|local) bin=asyncps-$role ;;
  wait-servers) bin="" ;;
  *) bin=$role ;;
esac

index="" project="" sep="_"
case ${ASYNCPS_LAUNCH_INDEX_FROM:-} in
  "") ;;
  hostname)
    name=$(hostname)
    [[ $name =~ ([0-9]+)$ ]] || die "host name '$name' does not end in a number (expected a StatefulSet pod name like shard-0)"
    index=$((10#${BASH_REMATCH[1]})) ;;
  job)
    [[ ${JOB_COMPLETION_INDEX:-} =~ ^[0-9]+$ ]] || die "JOB_COMPLETION_INDEX is not set (expected an indexed Job: completionMode: Indexed)"
    index=$JOB_COMPLETION_INDEX ;;
  slot)
    [[ ${ASYNCPS_LAUNCH_SLOT:-} =~ ^[1-9][0-9]*$ ]] || die "ASYNCPS_LAUNCH_SLOT is not a slot number >= 1 (Swarm: ASYNCPS_LAUNCH_SLOT: \"{{.Task.Slot}}\")"
    index=$((10#$ASYNCPS_LAUNCH_SLOT - 1)) ;;
  compose)
    # The embedded DNS of a docker network answers the container's own address with its name,
    # e.g. 'asyncps_worker_2.asyncps_default' (compose v1) or 'asyncps-worker-2.asyncps_default' (v2).
    fqdn=""
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
      for ip in $(hostname -i 2>/dev/null); do
        fqdn=$(getent -s dns hosts "$ip" | awk '{print $2}' | head -n 1) || true
        [[ -n $fqdn && $fqdn != "$(hostname)" ]] && break 2
        fqdn=""
      done
      sleep 0.5
    done
    [[ -n $fqdn ]] || die "cannot find this container's compose name by reverse DNS of $(hostname -i 2>/dev/null) (run it under docker compose on a user-defined network, or set the index explicitly)"
    name=${fqdn%%.*}
    if [[ $name =~ ^(.+)([_-])[^_-]+[_-]([0-9]+)$ ]]; then
      project=${BASH_REMATCH[1]} sep=${BASH_REMATCH[2]}
      index=$((10#${BASH_REMATCH[3]} - 1))
    else
      die "container name '$name' is not <project>_<service>_<n> or <project>-<service>-<n>"
    fi ;;
  *) die "ASYNCPS_LAUNCH_INDEX_FROM must be hostname, compose, job or slot, not '${ASYNCPS_LAUNCH_INDEX_FROM}'" ;;
esac

if [[ -n $index ]]; then
  case $role in
    server) export ASYNCPS_FIRST_SHARD=${ASYNCPS_FIRST_SHARD:-$index} ;;
    worker) export ASYNCPS_WORKER_INDEX=${ASYNCPS_WORKER_INDEX:-$index} ;;
  esac
  if [[ -n ${ASYNCPS_REPORT_JSON:-} ]]; then
    export ASYNCPS_REPORT_JSON=${ASYNCPS_REPORT_JSON//\{i\}/$index}
  fi
fi

if [[ -z ${ASYNCPS_SERVERS:-} && -n ${ASYNCPS_LAUNCH_SERVERS_PATTERN:-} ]]; then
  [[ ${ASYNCPS_NUM_SHARDS:-} =~ ^[1-9][0-9]*$ ]] || die "ASYNCPS_LAUNCH_SERVERS_PATTERN needs ASYNCPS_NUM_SHARDS (a positive number), got '${ASYNCPS_NUM_SHARDS:-}'"
  list=""
  for ((i = 0; i < ASYNCPS_NUM_SHARDS; i++)); do
    s=${ASYNCPS_LAUNCH_SERVERS_PATTERN//\{i\}/$i}
    s=${s//\{n\}/$((i + 1))}
    s=${s//\{project\}/$project}
    s=${s//\{sep\}/$sep}
    list+=${list:+,}$s
  done
  export ASYNCPS_SERVERS=$list
fi

if [[ $role == wait-servers ]]; then
  [[ -n ${ASYNCPS_SERVERS:-} ]] || die "wait-servers needs ASYNCPS_SERVERS or ASYNCPS_LAUNCH_SERVERS_PATTERN + ASYNCPS_NUM_SHARDS"
  deadline=$((SECONDS + ${ASYNCPS_LAUNCH_WAIT_TIMEOUT:-600}))
  IFS=, read -r -a endpoints <<< "$ASYNCPS_SERVERS"
  for endpoint in "${endpoints[@]}"; do
    [[ $endpoint =~ ^tcp://(.+):([0-9]+)$ ]] || continue
    host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
    until timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; do
      if ((SECONDS >= deadline)); then
        echo "asyncps-launch: $endpoint still not accepting connections after ${ASYNCPS_LAUNCH_WAIT_TIMEOUT:-600}s (is the shard running? see its logs)" >&2
        exit 1
      fi
      sleep 1
    done
    echo "asyncps-launch: $endpoint is up" >&2
  done
  exit 0
fi

shown=""
[[ $role == server || $role == worker ]] && shown=$index
echo "asyncps-launch: $bin${shown:+ (index $shown)}${ASYNCPS_SERVERS:+ servers=$ASYNCPS_SERVERS}" >&2
exec "$bin" "$@"
