#!/usr/bin/env bash
# deploy/test.sh: the container deployment, tested for real.
#
#   1. starts its own dockerd (exec root and socket under a temp dir; data root, i.e. the layer
#      and build cache, under $ASYNCPS_DEPLOY_CACHE; no default bridge, no iptables/NAT, no
#      ip_forward change: the host's network is left alone),
#   2. builds a Debian bookworm base image with debootstrap + docker import (cached tarball),
#   3. builds deploy/Dockerfile on it (BASE_IMAGE), checks the image (non-root, libraries,
#      SIGTERM stops a shard cleanly and fast, healthcheck, Kubernetes-style shard index),
#   4. runs deploy/compose with 2 shards + 2 workers (+ its Prometheus, whose count of updates
#      must match the report) on a small Fashion-MNIST subset, waits for
#      the workers, checks every exit code and the report (accuracy >= threshold, parameter
#      server updates == sum over workers of ceil(epochs * ceil(rows_w / batch) / window)),
#      that the host reaches a shard only through the test's bridge, clean SIGTERM + checkpoints,
#   4b. initialises a single-node Docker Swarm on that dockerd (listening on 127.0.0.1 only),
#      deploys deploy/swarm/stack.yml (shard services, a replicated worker service that runs to
#      completion, the report; CURVE keys as Swarm secrets), checks the report the same way and
#      that every worker task exited 0, removes the stack and leaves the swarm,
#   5. checks the Kubernetes manifests offline (kubectl kustomize + deploy/k8s/check.py), then
#      runs the small overlay's pods in docker as the kubelet would (deploy/k8s/pods.py) and
#      checks that report the same way,
#   6. tears everything down and stops dockerd by its PID.
#
# Needs root, docker.io, docker-compose (or the compose v2 plugin), debootstrap, kubectl,
# python3-yaml, iproute2 (scripts/install-deps.sh --with-containers) and the Debian mirror.
# Environment (all optional):
#   ASYNCPS_DEPLOY_CACHE      cache dir (default /var/cache/asyncps-deploy)
#   ASYNCPS_DEPLOY_TIMEOUT    whole-test limit in seconds (default 1800; a cold build compiles)
#   ASYNCPS_DEPLOY_POOL       address pool for the test's networks (default 172.30.64.0/18)
#   ASYNCPS_DEBIAN_MIRROR     Debian mirror (default: the host's apt source, else deb.debian.org)
#   ASYNCPS_DEPLOY_REFRESH=1  rebuild the cached base tarball
#   ASYNCPS_DEPLOY_KEEP=1     keep the temp dir (logs) after the test
#   ASYNCPS_DEPLOY_ONLY=k8s   only the offline manifest check (no docker at all)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ASYNCPS_DEPLOY_CACHE:-/var/cache/asyncps-deploy}
POOL=${ASYNCPS_DEPLOY_POOL:-172.30.64.0/18}
TEST_TIMEOUT=${ASYNCPS_DEPLOY_TIMEOUT:-1800}
PROJECT=asyncpsdeploytest
IMAGE=asyncps:deploy-test
# The test's run: 2 shards, 2 workers, ADAG, batch 16, window 5, 1 epoch on 3,200 rows.
SHARDS=2 WORKERS=2 ALGO=adag BATCH=16 WINDOW=5 EPOCHS=1 TRAIN_LIMIT=3200 TEST_LIMIT=2000
MIN_ACCURACY=${ASYNCPS_DEPLOY_MIN_ACCURACY:-0.60}

T0=$SECONDS
log() { printf '[deploy-test %4ds] %s\n' $((SECONDS - T0)) "$*"; }
fail() { printf '[deploy-test %4ds] FAIL: %s\n' $((SECONDS - T0)) "$*" >&2; exit 1; }

# ---- the whole test runs under a hard time limit (cleanup runs on the way out) --------------
# The inner run gets SIGTERM at the limit and cleans up; should it be SIGKILLed 60 s later, this
# outer shell still stops the dockerd it started (pid file in the shared temp dir).
if [[ -z ${ASYNCPS_DEPLOY_INNER:-} ]]; then
  export ASYNCPS_DEPLOY_INNER=1
  TMP=$(mktemp -d /tmp/asyncps-deploy.XXXXXX)
  export ASYNCPS_DEPLOY_TMP=$TMP
  rc=0
  # --foreground: the signal goes to the inner script only (its trap tears down in order), not
  # to its process group (which would stop dockerd under it).
  timeout --foreground --kill-after=60 "$TEST_TIMEOUT" "$0" "$@" &
  child=$!
  # Ctrl-C / SIGTERM to this script: the inner run gets SIGTERM and cleans up before we exit.
  trap 'kill -TERM "$child" 2> /dev/null' TERM INT HUP
  while kill -0 "$child" 2> /dev/null; do
    rc=0; wait "$child" || rc=$?
  done
  trap - TERM INT HUP
  if ((rc == 124)); then echo "[deploy-test] FAIL: took longer than ${TEST_TIMEOUT}s (ASYNCPS_DEPLOY_TIMEOUT)" >&2; fi
  for pidfile in "$TMP/dockerd.pid" "$TMP/exec/containerd/containerd.pid"; do
    pid=$(cat "$pidfile" 2> /dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2> /dev/null && tr '\0' ' ' < "/proc/$pid/cmdline" | grep "$TMP" > /dev/null; then
      echo "[deploy-test] stopping leftover pid $pid ($pidfile)" >&2
      kill -TERM "$pid"; sleep 5; kill -0 "$pid" 2> /dev/null && kill -KILL "$pid"
    fi
  done
  [[ -d $TMP && $rc -eq 0 && -z ${ASYNCPS_DEPLOY_KEEP:-} ]] && rm -rf "$TMP"
  exit "$rc"
fi

check_manifests() {
  log "kubernetes: kubectl kustomize + structural check of base and overlays (offline)"
  command -v kubectl > /dev/null || fail "kubectl not found (scripts/install-deps.sh --with-containers)"
  python3 -c 'import yaml' 2> /dev/null || fail "python3-yaml not found (apt install python3-yaml)"
  python3 "$ROOT/deploy/k8s/check.py" || fail "Kubernetes manifests: see the FAIL lines above"
}

if [[ ${ASYNCPS_DEPLOY_ONLY:-} == k8s ]]; then
  check_manifests
  log "PASS (manifests only)"
  exit 0
fi

# ---- preconditions ---------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || fail "must run as root (it starts its own dockerd)"
for c in dockerd debootstrap kubectl python3 ip flock timeout tar; do
  command -v "$c" > /dev/null || fail "$c not found (scripts/install-deps.sh --with-containers)"
done
# The Debian CLI matches the Debian daemon and builds with BuildKit without the buildx plugin.
DOCKER=${ASYNCPS_DOCKER_CLI:-$(command -v /usr/bin/docker || command -v docker || true)}
[[ -n $DOCKER ]] || fail "docker CLI not found (apt install docker.io)"
if command -v docker-compose > /dev/null; then
  COMPOSE=(docker-compose)
elif "$DOCKER" compose version > /dev/null 2>&1; then
  COMPOSE=("$DOCKER" compose)
else
  fail "neither docker-compose nor the docker compose plugin is installed (apt install docker-compose)"
fi

mkdir -p "$CACHE"
exec 9> "$CACHE/lock"
flock -w 900 9 || fail "another deploy test holds $CACHE/lock for more than 15 minutes"

exec 7>&1 8>&2
TMP=${ASYNCPS_DEPLOY_TMP:-$(mktemp -d /tmp/asyncps-deploy.XXXXXX)}
SOCK=$TMP/docker.sock
export DOCKER_HOST=unix://$SOCK
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
DOCKERD_PID=""
COMPOSE_FILE=$ROOT/deploy/compose/docker-compose.yml
COMPOSE_UP=0
SWARM_UP=0
SWARM_STACK=asyncpsswarm

# Every docker call is bounded, and runs in the background so that a SIGTERM to this script
# interrupts the wait at once and the cleanup runs (bash defers traps during a foreground job).
d() { timeout "${DTIMEOUT:-120}" "$DOCKER" "$@" & wait $!; }
dc() { timeout "${DTIMEOUT:-120}" "${COMPOSE[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" "$@" & wait $!; }
# container ids of a compose service, running or exited (same labels in compose v1 and v2)
svc_ids() {
  d ps -aq --filter "label=com.docker.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1"
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  exec 1>&7 2>&8   # a signal may land inside a redirected command: log to the real outputs
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2> /dev/null; then
    if ((COMPOSE_UP)); then
      log "teardown: compose down"
      DTIMEOUT=90 dc down -v --remove-orphans -t 10 > "$TMP/compose-down.log" 2>&1
    fi
    if ((SWARM_UP)); then
      log "teardown: stack rm, swarm leave"
      DTIMEOUT=60 d stack rm "$SWARM_STACK" > /dev/null 2>&1
      DTIMEOUT=60 d swarm leave --force > /dev/null 2>&1
    fi
    local left
    left=$(DTIMEOUT=20 d ps -aq 2> /dev/null)
    [[ -n $left ]] && DTIMEOUT=60 d rm -f -v $left > /dev/null 2>&1
    DTIMEOUT=30 d network prune -f > /dev/null 2>&1
    DTIMEOUT=30 d volume prune -f > /dev/null 2>&1
    # keep the cache bounded: dangling images of earlier builds, build cache over 4 GB
    DTIMEOUT=60 d image prune -f > /dev/null 2>&1
    DTIMEOUT=120 d builder prune -f --keep-storage 4gb > /dev/null 2>&1
    log "teardown: stopping dockerd (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID"
    for _ in $(seq 1 40); do kill -0 "$DOCKERD_PID" 2> /dev/null || break; sleep 0.5; done
    if kill -0 "$DOCKERD_PID" 2> /dev/null; then
      log "teardown: dockerd did not stop in 20 s, killing it"
      kill -KILL "$DOCKERD_PID"
    fi
    wait "$DOCKERD_PID" 2> /dev/null
  fi
  # dockerd's own containerd (pid file under our exec root), should dockerd have died without it
  local cpid
  cpid=$(cat "$TMP/exec/containerd/containerd.pid" 2> /dev/null)
  if [[ -n $cpid ]] && kill -0 "$cpid" 2> /dev/null && tr '\0' ' ' < "/proc/$cpid/cmdline" | grep "$TMP" > /dev/null; then
    kill -TERM "$cpid"; sleep 2; kill -0 "$cpid" 2> /dev/null && kill -KILL "$cpid"
  fi
  # nothing of ours may stay mounted
  grep -o " $TMP[^ ]*" /proc/mounts 2> /dev/null | sort -r | while read -r m; do umount -l "$m"; done
  if ((rc != 0)); then
    log "dockerd log (last 15 lines):"; tail -n 15 "$TMP/dockerd.log" 2> /dev/null | sed 's/^/    /'
  fi
  if [[ -n ${ASYNCPS_DEPLOY_KEEP:-} || $rc -ne 0 ]]; then
    log "logs kept in $TMP"
  else
    rm -rf "$TMP"
  fi
  log "total $((SECONDS - T0)) s, exit $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# check_report WHAT REPORT_TEXT WORKERS TRAIN_ROWS BATCH EPOCHS WINDOW
# ADAG/DOWNPOUR: each worker commits once per window of batches, and once more for a last partial
# window: ceil(batches / window), batches = epochs * ceil(rows_of_worker / batch), where worker w
# holds rows [w*N/W, (w+1)*N/W) (models::Partition).
check_report() {
  local what=$1 text=$2 workers=$3 rows_all=$4 batch=$5 epochs=$6 window=$7
  local accuracy updates ttime expected=0 rows batches w
  accuracy=$(grep -oE 'Accuracy: *[0-9.]+' <<< "$text" | head -n 1 | grep -oE '[0-9.]+$' || true)
  updates=$(grep -oE 'Number of parameter server updates: *[0-9,]+' <<< "$text" | head -n 1 | grep -oE '[0-9,]+$' | tr -d , || true)
  ttime=$(grep -oE 'Training time: *[0-9.]+' <<< "$text" | head -n 1 | grep -oE '[0-9.]+$' || true)
  [[ -n $accuracy && -n $updates && -n $ttime ]] ||
    fail "$what: report lacks 'Training time:', 'Accuracy:' or 'Number of parameter server updates:' lines"
  for ((w = 0; w < workers; w++)); do
    rows=$(((w + 1) * rows_all / workers - w * rows_all / workers))
    batches=$((epochs * ((rows + batch - 1) / batch)))
    expected=$((expected + (batches + window - 1) / window))
  done
  [[ $updates == "$expected" ]] ||
    fail "$what: parameter server updates $updates != expected $expected (sum over $workers workers of ceil($epochs*ceil(rows/$batch)/$window), $rows_all rows)"
  awk -v a="$accuracy" -v m="$MIN_ACCURACY" 'BEGIN { exit !(a >= m) }' ||
    fail "$what: accuracy $accuracy below the threshold $MIN_ACCURACY"
  log "$what report: training time ${ttime}s, accuracy $accuracy >= $MIN_ACCURACY, updates $updates == $expected"
}

# ---- 1. dockerd ------------------------------------------------------------------------------
# Networks of this daemon come from $POOL; refuse to start if the host routes part of it.
if ip -4 route show root "$POOL" | grep -v ' dev br-' | grep . > /dev/null; then
  fail "the host already routes addresses in $POOL ($(ip -4 route show root "$POOL" | head -n 1)); set ASYNCPS_DEPLOY_POOL to a free private range"
fi
log "starting dockerd (data root $CACHE/docker, exec root $TMP/exec, socket $SOCK, pool $POOL)"
mkdir -p "$TMP/exec" "$CACHE/docker"
dockerd \
  --data-root "$CACHE/docker" --exec-root "$TMP/exec" --pidfile "$TMP/dockerd.pid" \
  -H "unix://$SOCK" \
  --bridge=none --iptables=false --ip-forward=false --ip-masq=false --ip6tables=false \
  --default-address-pool "base=$POOL,size=24" \
  --containerd-namespace asyncps-deploy-test --containerd-plugins-namespace asyncps-deploy-test-plugins \
  --cgroup-parent asyncps-deploy-test --log-level warn \
  > "$TMP/dockerd.log" 2>&1 7>&- 8>&- 9>&- &
DOCKERD_PID=$!
for i in $(seq 1 120); do
  DTIMEOUT=5 d version > /dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2> /dev/null || fail "dockerd exited at start: $(tail -n 5 "$TMP/dockerd.log")"
  ((i == 120)) && fail "dockerd did not answer within 60 s: $(tail -n 5 "$TMP/dockerd.log")"
  sleep 0.5
done
log "dockerd $(d version -f '{{.Server.Version}}') up (pid $DOCKERD_PID)"
# leftovers of an interrupted earlier run on this cached data root
if [[ $(d info -f '{{.Swarm.LocalNodeState}}') != inactive ]]; then
  log "leaving the swarm an interrupted earlier run left"; DTIMEOUT=60 d swarm leave --force > /dev/null
fi
stale=$(d ps -aq)
[[ -n $stale ]] && { log "removing $(wc -w <<< "$stale") stale containers"; d rm -f -v $stale > /dev/null; }
d network prune -f > /dev/null
d volume prune -f > /dev/null

# ---- 2. base image: debootstrap --variant=minbase bookworm + docker import (cached) ---------
mirror=${ASYNCPS_DEBIAN_MIRROR:-}
if [[ -z $mirror ]]; then
  mirror=$(grep -rhoE '(URIs:|^deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
             /etc/apt/sources.list /etc/apt/sources.list.d 2> /dev/null |
           grep -oE 'https?://[^[:space:]]+' | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi
mirror=${mirror%/}
security=${mirror%/debian}/debian-security
BASE_TAR=$CACHE/base-bookworm-minbase.tar
if [[ ! -s $BASE_TAR || -n ${ASYNCPS_DEPLOY_REFRESH:-} ]]; then
  log "debootstrap --variant=minbase bookworm from $mirror (cached afterwards in $BASE_TAR)"
  rootfs=$CACHE/rootfs.tmp
  rm -rf "$rootfs"
  { timeout 900 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$TMP/debootstrap.log" 2>&1 & wait $!; } ||
    fail "debootstrap failed (mirror $mirror; set ASYNCPS_DEBIAN_MIRROR): $(tail -n 5 "$TMP/debootstrap.log")"
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    echo "deb $security bookworm-security main"
  } > "$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/tmp/*
  tar --numeric-owner -C "$rootfs" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$rootfs"
fi
# Tag by content: re-importing the same tarball would make a new image id and void the layer cache.
base_sum=$(sha256sum "$BASE_TAR" | cut -c1-12)
BASE_IMAGE=asyncps-base:bookworm-$base_sum
if ! d image inspect "$BASE_IMAGE" > /dev/null 2>&1; then
  log "docker import $BASE_TAR as $BASE_IMAGE"
  DTIMEOUT=300 d import --change 'CMD ["/bin/bash"]' "$BASE_TAR" "$BASE_IMAGE" > /dev/null
fi

# ---- 3. the image ----------------------------------------------------------------------------
log "docker build -f deploy/Dockerfile --build-arg BASE_IMAGE=$BASE_IMAGE (log: $TMP/build.log)"
t=$SECONDS
# --network host: apt in the build reaches the mirror through the host (this daemon's bridges
# have no NAT by design); nothing else runs on the host network.
if ! DTIMEOUT=1500 d build --network host --progress=plain -f "$ROOT/deploy/Dockerfile" \
       --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$IMAGE" "$ROOT" > "$TMP/build.log" 2>&1; then
  tail -n 40 "$TMP/build.log" | sed 's/^/    /'
  fail "docker build failed (full log: $TMP/build.log)"
fi
log "built $IMAGE in $((SECONDS - t)) s: $(d image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')," \
    "binaries: $(d run --rm --network none --entrypoint /bin/ls "$IMAGE" /opt/asyncps/bin | tr '\n' ' ')"

# Prometheus for compose: Debian's prometheus on the same base (deploy/prometheus/Dockerfile).
PROM_IMAGE=asyncps-prometheus:deploy-test
if ! DTIMEOUT=600 d build --network host --progress=plain -f "$ROOT/deploy/prometheus/Dockerfile" \
       --build-arg BASE_IMAGE="$BASE_IMAGE" -t "$PROM_IMAGE" "$ROOT/deploy/prometheus" > "$TMP/build-prometheus.log" 2>&1; then
  tail -n 20 "$TMP/build-prometheus.log" | sed 's/^/    /'
  fail "docker build of deploy/prometheus failed (full log: $TMP/build-prometheus.log)"
fi
log "built $PROM_IMAGE (Debian's prometheus, deploy/prometheus/prometheus-compose.yml)"

uid=$(d run --rm --network none "$IMAGE" id -u)
[[ $uid == 10001 ]] || fail "the image runs as uid $uid, expected the non-root user 10001"
for b in asyncps-server asyncps-worker asyncps-report; do
  d run --rm --network none "$IMAGE" "$b" --help > /dev/null 2>&1 || fail "$b --help fails in the image (missing binary or library)"
done
log "image: non-root (uid 10001), server/worker/report start"

# A shard as Kubernetes runs it (pod shard-1 of 2), its healthcheck, then SIGTERM (docker stop).
d run -d --name "$PROJECT-sigterm" --network none --hostname shard-1 \
  -e ASYNCPS_LAUNCH_INDEX_FROM=hostname -e ASYNCPS_NUM_SHARDS=2 \
  --health-interval 1s --health-start-period 1s "$IMAGE" asyncps-launch server > /dev/null
for i in $(seq 1 60); do
  h=$(d inspect -f '{{.State.Health.Status}}' "$PROJECT-sigterm")
  [[ $h == healthy ]] && break
  ((i == 60)) && fail "shard container not healthy after 30 s (health: $h): $(d logs "$PROJECT-sigterm" 2>&1 | tail -n 5)"
  sleep 0.5
done
hc=$(d exec "$PROJECT-sigterm" asyncps-healthcheck) || fail "healthcheck fails on a serving shard: $hc"
grep -q "^healthy: tcp://0.0.0.0:5555" <<< "$hc" || fail "healthcheck did not probe the shard's endpoint: $hc"
if hc=$(d exec -e ASYNCPS_READY_FILE=/tmp/none "$PROJECT-sigterm" asyncps-healthcheck); then
  fail "healthcheck passes without a ready file: $hc"
fi
d logs "$PROJECT-sigterm" 2>&1 | grep "shard 1 of 2 listening" > /dev/null ||
  fail "pod-name index not applied (expected 'shard 1 of 2 listening'): $(d logs "$PROJECT-sigterm" 2>&1 | tail -n 3)"
t=$SECONDS
d stop -t 20 "$PROJECT-sigterm" > /dev/null
stop_s=$((SECONDS - t))
code=$(d inspect -f '{{.State.ExitCode}}' "$PROJECT-sigterm")
[[ $code == 0 ]] || fail "SIGTERM: shard exited with $code (137 = killed after the grace period: SIGTERM not handled)"
((stop_s < 10)) || fail "SIGTERM: shard took ${stop_s}s to stop"
d logs "$PROJECT-sigterm" 2>&1 | grep "shutting down" > /dev/null || fail "SIGTERM: no clean shutdown in the shard's log"
d rm "$PROJECT-sigterm" > /dev/null
log "image: healthcheck healthy, shard index from pod name, SIGTERM -> clean exit 0 in ${stop_s}s"

# ---- 4. compose: 2 shards + 2 workers + report -----------------------------------------------
export ASYNCPS_PROMETHEUS_IMAGE=$PROM_IMAGE
export ASYNCPS_IMAGE=$IMAGE ASYNCPS_NUM_SHARDS=$SHARDS ASYNCPS_NUM_WORKERS=$WORKERS ASYNCPS_ALGO=$ALGO
export ASYNCPS_BATCH_SIZE=$BATCH ASYNCPS_WINDOW=$WINDOW ASYNCPS_EPOCHS=$EPOCHS
export ASYNCPS_TRAIN_LIMIT=$TRAIN_LIMIT ASYNCPS_TEST_LIMIT=$TEST_LIMIT ASYNCPS_SEED=42
export ASYNCPS_DATA_DIR=${ASYNCPS_DATA_DIR:-/usr/share/datasets/fashion-mnist}
[[ -d $ASYNCPS_DATA_DIR ]] || fail "no data set at $ASYNCPS_DATA_DIR (apt install dataset-fashion-mnist)"
log "compose up: $SHARDS shards, $WORKERS workers, $ALGO, batch $BATCH, window $WINDOW, $EPOCHS epoch(s), $TRAIN_LIMIT rows"
COMPOSE_UP=1
DTIMEOUT=90 dc down -v --remove-orphans > /dev/null 2>&1 || true   # no checkpoints of an earlier run
t=$SECONDS
# 'up -d' returns once the report container is started (after the workers completed).
if ! DTIMEOUT=600 dc up -d --no-build > "$TMP/compose-up.log" 2>&1; then
  sed 's/^/    /' "$TMP/compose-up.log" | tail -n 15
  DTIMEOUT=60 dc logs --no-color > "$TMP/compose.log" 2>&1
  tail -n 40 "$TMP/compose.log" | sed 's/^/    /'
  fail "docker-compose up failed (a worker failed or a shard never became healthy; logs: $TMP/compose.log)"
fi
report_id=$(svc_ids report)
[[ -n $report_id ]] || fail "no report container"
# (long waits write to a file, not through $(...): a pending SIGTERM would wait for them)
DTIMEOUT=600 d wait "$report_id" > "$TMP/report.code" || fail "report still running after 600 s"
report_code=$(< "$TMP/report.code")
run_s=$((SECONDS - t))
DTIMEOUT=60 dc logs --no-color > "$TMP/compose.log" 2>&1

# Traffic stays on the test's network: the compose network's bridge is ours, and the host
# reaches a shard through it (never through the default route).
net=${PROJECT}_asyncps
net_id=$(d network inspect -f '{{.Id}}' "$net")
bridge=br-${net_id:0:12}
shard_ip=$(d inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$(svc_ids shard | head -n 1)")
route=$(ip route get "$shard_ip")
grep -q " dev $bridge " <<< "$route" || fail "route to the shard $shard_ip is not via the test's bridge $bridge: $route"
timeout 3 bash -c "exec 3<>/dev/tcp/$shard_ip/5555" || fail "shard $shard_ip:5555 does not accept connections over $bridge"
log "network $net on $bridge ($(d network inspect -f '{{(index .IPAM.Config 0).Subnet}}' "$net")), route to a shard: ${route%% uid*}"

for id in $(svc_ids worker); do
  code=$(d inspect -f '{{.State.ExitCode}}' "$id")
  [[ $code == 0 ]] || fail "worker $(d inspect -f '{{.Name}}' "$id") exited with $code (logs: $TMP/compose.log)"
done
nw=$(svc_ids worker | wc -l)
[[ $nw == "$WORKERS" ]] || fail "expected $WORKERS worker containers, found $nw"
[[ $report_code == 0 ]] || { grep report "$TMP/compose.log" | tail -n 20; fail "report exited with $report_code"; }

echo "---- report (docker-compose logs report) ----"
DTIMEOUT=30 dc logs --no-color report 2>&1 | sed 's/^/    /' | tail -n 25
echo "--------------------------------------------"
report=$(DTIMEOUT=30 dc logs --no-color report 2>&1)
check_report compose "$report" "$WORKERS" "$TRAIN_LIMIT" "$BATCH" "$EPOCHS" "$WINDOW"
log "compose run: ${run_s}s"

# The compose Prometheus scraped every shard: its count of updates is the report's. (It is
# reached only through the test's bridge, like the shard above.)
prom_ip=$(d inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$(svc_ids prometheus | head -n 1)")
route=$(ip route get "$prom_ip")
grep -q " dev $bridge " <<< "$route" || fail "route to Prometheus $prom_ip is not via the test's bridge $bridge: $route"
updates=$(grep -oE 'Number of parameter server updates: *[0-9,]+' <<< "$report" | head -n 1 | grep -oE '[0-9,]+$' | tr -d ,)
prom_query() {
  python3 - "$prom_ip" "$1" << 'PY'
import json, sys, urllib.parse, urllib.request
url = f"http://{sys.argv[1]}:9090/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    r = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
    print(r[0]["value"][1] if r else "none")
except Exception as e:
    print(f"error: {e}")
PY
}
for i in $(seq 1 30); do
  up=$(prom_query 'count(up{job="asyncps-shard"} == 1)')
  seen=$(prom_query 'min(asyncps_updates_total)')
  [[ $up == "$SHARDS" && $seen == "$updates" ]] && break
  ((i == 30)) && fail "Prometheus at $prom_ip: $up of $SHARDS shards up, min(asyncps_updates_total) = $seen, report says $updates"
  sleep 1
done
log "compose Prometheus: $up shards scraped, min(asyncps_updates_total) = $seen = the report's updates"

# CURVE: the run was encrypted and authenticated; a client without a key, or with a key that
# is not on the allow-list, can neither pull nor commit (it fails at connect, with its reason).
DTIMEOUT=30 dc logs --no-color shard > "$TMP/shard.log" 2>&1
[[ $(grep -c "CURVE security on" "$TMP/shard.log") == "$SHARDS" ]] ||
  fail "CURVE is not on in every shard (expected 'CURVE security on' $SHARDS times in $TMP/shard.log)"
servers=""
for ((i = 1; i <= SHARDS; i++)); do servers+=${servers:+,}tcp://${PROJECT}_shard_$i:5555; done
DTIMEOUT=120 d run --rm --network "$net" -v "${PROJECT}_keys:/keys:ro" -v "$ASYNCPS_DATA_DIR:/data:ro" \
  -e ASYNCPS_SERVERS="$servers" -e ASYNCPS_DATA=/data -e ASYNCPS_TRAIN_LIMIT=64 -e ASYNCPS_EPOCHS=1 \
  -e ASYNCPS_CONNECT_DEADLINE=3 -e ASYNCPS_RETRY_DEADLINE=3 --entrypoint /bin/bash "$IMAGE" -c '
    cd /tmp && asyncps-keygen rogue > /dev/null || exit 3
    if timeout 60 asyncps-worker > keyless.log 2>&1; then echo "keyless client got in"; exit 1; fi
    if timeout 60 asyncps-worker --curve-server-key-file /keys/server.pub --curve-secret-key-file rogue.key \
         > rogue.log 2>&1; then echo "client with an unlisted key got in"; exit 1; fi
    grep -q unauthorised keyless.log || { echo "keyless client failed, not as unauthorised: $(tail -n 1 keyless.log)"; exit 1; }
    grep -q unauthorised rogue.log || { echo "unlisted key failed, not as unauthorised: $(tail -n 1 rogue.log)"; exit 1; }
    echo "keyless client: $(tail -n 1 keyless.log)"; echo "unlisted key: $(tail -n 1 rogue.log)"' \
  > "$TMP/curve-probe.log" 2>&1 || fail "CURVE: $(grep -v '^WARNING' "$TMP/curve-probe.log" | tail -n 3)"
log "CURVE on in every shard; refused:"
grep -E '^(keyless client|unlisted key):' "$TMP/curve-probe.log" | cut -c1-170 | sed 's/^/    /'

# Shards ran without a restart and stop cleanly on SIGTERM (docker-compose stop) with exit 0.
DTIMEOUT=60 dc stop -t 20 shard > /dev/null 2>&1
for id in $(svc_ids shard); do
  name=$(d inspect -f '{{.Name}}' "$id")
  code=$(d inspect -f '{{.State.ExitCode}}' "$id")
  [[ $code == 0 ]] || fail "shard $name exited with $code on SIGTERM"
  restarts=$(d inspect -f '{{.RestartCount}}' "$id")
  [[ $restarts == 0 ]] || fail "shard $name restarted $restarts times during the run (see $TMP/compose.log)"
done
msg="compose: all $SHARDS shards stopped cleanly (exit 0, no restarts)"
# With checkpoints (asyncps-server --checkpoint-dir), SIGTERM leaves one per shard in the volume.
if d run --rm --network none "$IMAGE" asyncps-server --help 2> /dev/null | grep -- --checkpoint-dir > /dev/null; then
  ckpts=$(d run --rm --network none -v "${PROJECT}_checkpoints:/c:ro" "$IMAGE" ls /c | tr '\n' ' ')
  for ((i = 0; i < SHARDS; i++)); do
    grep -q "shard-$i-of-$SHARDS" <<< "$ckpts" || fail "no checkpoint of shard $i after SIGTERM (volume has: $ckpts)"
  done
  msg+=", checkpoints written: $ckpts"
fi
log "$msg"
DTIMEOUT=90 dc down -v --remove-orphans -t 10 > "$TMP/compose-down.log" 2>&1 || fail "compose down failed: $(tail -n 5 "$TMP/compose-down.log")"
COMPOSE_UP=0

# ---- 4b. Docker Swarm: a single-node swarm on this dockerd, the stack, its report ------------
# The swarm listens and advertises on 127.0.0.1 only; its overlay network and docker_gwbridge
# take addresses from this daemon's pool. The test talks to no task address: it reads the
# report from the service's log and the exit codes from the task containers.
log "swarm: init (single node on 127.0.0.1), stack deploy deploy/swarm/stack.yml as $SWARM_STACK"
SWARM_UP=1
DTIMEOUT=60 d swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 > "$TMP/swarm-init.log" 2>&1 ||
  fail "docker swarm init failed: $(tail -n 3 "$TMP/swarm-init.log")"
mkdir -p "$TMP/swarm-keys"
d run --rm --network none -u 0 -v "$TMP/swarm-keys:/k" -w /k --entrypoint /bin/bash "$IMAGE" \
  -c 'asyncps-keygen server && asyncps-keygen client' > /dev/null || fail "swarm: cannot make the CURVE keys"
t=$SECONDS
export ASYNCPS_SWARM_KEYS=$TMP/swarm-keys
DTIMEOUT=120 d stack deploy --resolve-image never \
  -c "$ROOT/deploy/swarm/stack.yml" "$SWARM_STACK" > "$TMP/swarm-deploy.log" 2>&1 ||
  fail "docker stack deploy failed: $(tail -n 5 "$TMP/swarm-deploy.log")"
# The report task ends (Complete or Failed) once every worker's report is in and evaluated.
state=""
for i in $(seq 1 300); do
  state=$(d service ps --format '{{.CurrentState}}' "${SWARM_STACK}_report" 2> /dev/null | head -n 1)
  [[ $state == Complete* || $state == Failed* || $state == Rejected* ]] && break
  ((i == 300)) && fail "swarm: report not done after 600 s (state: $state)"
  sleep 2
done
DTIMEOUT=60 d service logs --raw "${SWARM_STACK}_report" > "$TMP/swarm-report.log" 2>&1
for svc in shard-0 shard-1 worker; do
  DTIMEOUT=60 d service logs --raw "${SWARM_STACK}_$svc" > "$TMP/swarm-$svc.log" 2>&1
done
[[ $state == Complete* ]] || { tail -n 20 "$TMP/swarm-report.log"; fail "swarm: report task $state (logs: $TMP/swarm-*.log)"; }
codes=$(d ps -a --filter "label=com.docker.swarm.service.name=${SWARM_STACK}_worker" --format '{{.Status}}')
nw=$(grep -c . <<< "$codes" || true)
[[ $nw == "$WORKERS" ]] || fail "swarm: expected $WORKERS worker tasks, found $nw (a worker was restarted? $codes)"
grep -v '^Exited (0)' <<< "$codes" | grep . > /dev/null && fail "swarm: a worker task did not exit 0: $codes"
grep -q "CURVE security on" "$TMP/swarm-shard-0.log" || fail "swarm: shard-0 runs without CURVE (the secrets)"
echo "---- report (docker service logs ${SWARM_STACK}_report) ----"
grep -v '^asyncps-launch' "$TMP/swarm-report.log" | head -n 8 | sed 's/^/    /'
echo "--------------------------------------------"
check_report swarm "$(< "$TMP/swarm-report.log")" "$WORKERS" "$TRAIN_LIMIT" "$BATCH" "$EPOCHS" "$WINDOW"
DTIMEOUT=60 d stack rm "$SWARM_STACK" > /dev/null || fail "docker stack rm failed"
for i in $(seq 1 60); do
  [[ -z $(d ps -aq --filter "label=com.docker.stack.namespace=$SWARM_STACK") ]] && break
  sleep 1
done
DTIMEOUT=60 d swarm leave --force > /dev/null || fail "docker swarm leave failed"
SWARM_UP=0
log "swarm: $WORKERS worker tasks exited 0, report ok, stack removed, swarm left: $((SECONDS - t))s"

# ---- 5. Kubernetes manifests: offline check, then the small overlay's pods run in docker -------
check_manifests

# Each pod's containers as the kubelet would run them (deploy/k8s/pods.py): same args, ConfigMap
# env, uid, read-only root, mounts; pod names shard-<i> and DNS names shard-<i>.shard on a
# network of this test; JOB_COMPLETION_INDEX for the workers; the report waits on the shared
# reports volume (the PVC). Order as a cluster may do it: shards, report (waits), workers.
K8S_OVERLAY=${ASYNCPS_DEPLOY_K8S_OVERLAY:-small}
log "kubernetes overlay $K8S_OVERLAY, run as pods in docker (deploy/k8s/pods.py)"
python3 "$ROOT/deploy/k8s/pods.py" "$ROOT/deploy/k8s/overlays/$K8S_OVERLAY" > "$TMP/pods.sh" ||
  fail "deploy/k8s/pods.py could not translate overlay $K8S_OVERLAY"
# shellcheck source=/dev/null
source "$TMP/pods.sh"
K8S_PREFIX=${PROJECT}-k8s K8S_NET=${PROJECT}-k8s K8S_DATA=$ASYNCPS_DATA_DIR
K8S_DOCKER=d   # every docker call under timeout
d network create --driver bridge "$K8S_NET" > /dev/null
# The Secrets (asyncps-curve): made with asyncps-keygen, as deploy/README.md tells users to.
for secret in $K8S_SECRETS; do
  d run --rm --network none -v "$K8S_PREFIX-secret-$secret:/var/lib/asyncps/keys" --entrypoint /bin/bash "$IMAGE" \
    -c 'cd /var/lib/asyncps/keys && asyncps-keygen server && asyncps-keygen client' > /dev/null ||
    fail "k8s: cannot make the keys of Secret $secret with asyncps-keygen"
done
t=$SECONDS
for ((i = 0; i < K8S_SHARDS; i++)); do k8s_shard "$i" > /dev/null 2>> "$TMP/k8s-run.log" || fail "k8s: cannot start pod shard-$i: $(tail -n 3 "$TMP/k8s-run.log")"; done
DTIMEOUT=120 k8s_report_init > "$TMP/k8s-report-init.log" 2>&1 || fail "k8s report init container: $(tail -n 3 "$TMP/k8s-report-init.log")"
k8s_report > /dev/null 2>> "$TMP/k8s-run.log" || fail "k8s: cannot start the report pod: $(tail -n 3 "$TMP/k8s-run.log")"
for ((i = 0; i < K8S_WORKERS; i++)); do
  DTIMEOUT=120 k8s_worker_init "$i" > "$TMP/k8s-worker-$i-init.log" 2>&1 || fail "k8s worker $i init container: $(tail -n 3 "$TMP/k8s-worker-$i-init.log")"
  k8s_worker "$i" > /dev/null 2>> "$TMP/k8s-run.log" || fail "k8s: cannot start worker pod $i: $(tail -n 3 "$TMP/k8s-run.log")"
done
for ((i = 0; i < K8S_WORKERS; i++)); do
  DTIMEOUT=600 d wait "$K8S_PREFIX-worker-$i" > "$TMP/k8s.code" || fail "k8s worker $i still running after 600 s"
  code=$(< "$TMP/k8s.code")
  [[ $code == 0 ]] || { d logs "$K8S_PREFIX-worker-$i" 2>&1 | tail -n 10; fail "k8s worker $i (JOB_COMPLETION_INDEX=$i) exited with $code"; }
done
DTIMEOUT=300 d wait "$K8S_PREFIX-report" > "$TMP/k8s.code" || fail "k8s report still running 300 s after the workers finished"
code=$(< "$TMP/k8s.code")
report=$(d logs "$K8S_PREFIX-report" 2>&1)
[[ $code == 0 ]] || { tail -n 10 <<< "$report"; fail "k8s report exited with $code"; }
echo "---- report (kubectl logs job/report, overlay $K8S_OVERLAY) ----"
head -n 8 <<< "$report" | sed 's/^/    /'
echo "--------------------------------------------"
check_report "kubernetes/$K8S_OVERLAY" "$report" "$K8S_WORKERS" "$K8S_ASYNCPS_TRAIN_LIMIT" "$K8S_ASYNCPS_BATCH_SIZE" \
  "$K8S_ASYNCPS_EPOCHS" "$K8S_ASYNCPS_WINDOW"
for ((i = 0; i < K8S_SHARDS; i++)); do
  d logs "$K8S_PREFIX-shard-$i" 2>&1 | grep "shard $i of $K8S_SHARDS listening" > /dev/null || fail "pod shard-$i did not serve shard $i"
  d logs "$K8S_PREFIX-shard-$i" 2>&1 | grep "CURVE security on" > /dev/null || fail "pod shard-$i runs without CURVE"
  d stop -t 20 "$K8S_PREFIX-shard-$i" > /dev/null
  code=$(d inspect -f '{{.State.ExitCode}}' "$K8S_PREFIX-shard-$i")
  [[ $code == 0 ]] || fail "pod shard-$i exited with $code on SIGTERM"
done
log "kubernetes/$K8S_OVERLAY: $K8S_SHARDS shard pods (CURVE on), $K8S_WORKERS indexed-job workers, report job: ok in $((SECONDS - t))s"

log "PASS"
