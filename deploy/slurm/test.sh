#!/usr/bin/env bash
# deploy/slurm/test.sh: asyncps on a real Slurm cluster of one node, on this machine.
#
#   1. starts its own munged (private key, socket and state under a temp dir), slurmctld and
#      slurmd (a private slurm.conf: free ports, the node at 127.0.0.1, declared with 8 CPUs so
#      that 2 shards + 3 workers fit on a 2-CPU machine),
#   2. job 0: CURVE keys that others can read (ASYNCPS_SLURM_KEYS) are refused (exit 2);
#      job 1: sbatch deploy/slurm/asyncps.sbatch, 2 shards + 3 workers, ADAG batch 16 window 5,
#      1 epoch on 3,000 rows; checks exit code 0, the exact update count and the accuracy,
#   3. job 2: the same for 2 epochs on 6,000 rows; once training runs, shard 1's step is killed
#      (SIGKILL: a crash); the job must restart it on its endpoint, it must restore its
#      checkpoint, the workers must finish and the report must account for the restart,
#   4. cancels whatever is left, stops the daemons it started, removes its files.
#
# Needs root, slurmctld, slurmd, slurm-client and munge (scripts/install-deps.sh --with-slurm),
# the Fashion-MNIST data set and a build (ASYNCPS_BIN_DIR, default build/bin).
# Environment: ASYNCPS_SLURM_TEST_TIMEOUT (whole test, default 600 s), ASYNCPS_SLURM_TEST_KEEP=1
# (keep the temp dir and its logs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=$(realpath "${ASYNCPS_BIN_DIR:-$ROOT/build/bin}")
TEST_TIMEOUT=${ASYNCPS_SLURM_TEST_TIMEOUT:-600}
MIN_ACCURACY=0.60

T0=$SECONDS
log() { printf '[slurm-test %4ds] %s\n' $((SECONDS - T0)) "$*"; }
fail() { printf '[slurm-test %4ds] FAIL: %s\n' $((SECONDS - T0)) "$*" >&2; exit 1; }

# The whole test runs under a time limit; the inner run's trap cleans up.
if [[ -z ${ASYNCPS_SLURM_TEST_INNER:-} ]]; then
  export ASYNCPS_SLURM_TEST_INNER=1
  exec timeout --foreground --kill-after=30 "$TEST_TIMEOUT" "$0" "$@"
fi

[[ $(id -u) -eq 0 ]] || fail "needs root (slurmd starts job steps as their user)"
for p in munged slurmctld slurmd sbatch srun squeue scancel sinfo scontrol; do
  command -v "$p" > /dev/null || fail "$p is missing: scripts/install-deps.sh --with-slurm"
done
for b in asyncps-server asyncps-worker asyncps-report asyncps-keygen; do
  [[ -x $BIN_DIR/$b ]] || fail "$BIN_DIR/$b is missing: build first (scripts/build.sh) or set ASYNCPS_BIN_DIR"
done
[[ -d /usr/share/datasets/fashion-mnist ]] || fail "no Fashion-MNIST: scripts/install-deps.sh"

TMP=$(mktemp -d /tmp/asyncps-slurm.XXXXXX)
chmod 755 "$TMP"  # munged runs as the munge user and must reach its own subdirectories
# Every process of this cluster carries ASYNCPS_SLURM_TEST_TAG=$TMP (the daemons, their
# slurmstepd, the jobs' tasks): the cleanup finds them by it. This shell does not.
MUNGE_PID="" CTLD_PID="" SLURMD_PID=""

# Kills the processes whose environment carries this test's tag (job steps, slurmstepd).
kill_tagged() {
  local pid
  for pid in $(grep -lsz "^ASYNCPS_SLURM_TEST_TAG=$TMP$" /proc/[0-9]*/environ | cut -d/ -f3); do
    kill -KILL "$pid" 2> /dev/null || true
  done
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n $CTLD_PID ]]; then
    scancel --full --user=root > /dev/null 2>&1
    for _ in $(seq 1 30); do [[ -z $(squeue --noheader 2> /dev/null) ]] && break; sleep 0.5; done
  fi
  local pid
  for pid in $SLURMD_PID $CTLD_PID; do
    kill -TERM "$pid" 2> /dev/null
  done
  for pid in $SLURMD_PID $CTLD_PID; do
    for _ in $(seq 1 20); do kill -0 "$pid" 2> /dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2> /dev/null
  done
  kill_tagged
  if [[ -n $MUNGE_PID ]]; then
    kill -TERM "$MUNGE_PID" 2> /dev/null
    for _ in $(seq 1 20); do kill -0 "$MUNGE_PID" 2> /dev/null || break; sleep 0.25; done
  fi
  if ((rc != 0)); then
    for f in "$TMP"/log/slurmctld.log "$TMP"/log/slurmd.log "$TMP"/job*/job.out; do
      [[ -f $f ]] && { log "$f (last 20 lines):"; tail -n 20 "$f" | sed 's/^/    /'; }
    done
  fi
  if [[ -n ${ASYNCPS_SLURM_TEST_KEEP:-} ]]; then
    log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
  log "$( ((rc == 0)) && echo PASS || echo "FAIL (exit $rc)")"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- 1. munged, slurmctld, slurmd ------------------------------------------------------------
mkdir -p "$TMP/munge" "$TMP/munge-socket" "$TMP/state" "$TMP/spool" "$TMP/log"
dd if=/dev/urandom of="$TMP/munge/munge.key" bs=1024 count=1 status=none
chown -R munge:munge "$TMP/munge" "$TMP/munge-socket"
chmod 700 "$TMP/munge"
chmod 755 "$TMP/munge-socket"  # munged wants every client to reach its socket
chmod 400 "$TMP/munge/munge.key"
MUNGE_SOCKET=$TMP/munge-socket/munge.socket
runuser -u munge -- munged --key-file="$TMP/munge/munge.key" --socket="$MUNGE_SOCKET" \
  --pid-file="$TMP/munge/munged.pid" --log-file="$TMP/munge/munged.log" --seed-file="$TMP/munge/munged.seed"
for _ in $(seq 1 20); do [[ -s $TMP/munge/munged.pid ]] && break; sleep 0.25; done
MUNGE_PID=$(cat "$TMP/munge/munged.pid" 2> /dev/null) || fail "munged did not start: $(cat "$TMP/munge/munged.log")"

CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
HOST=$(hostname -s)
NODE=asyncps-node0
export SLURM_CONF=$TMP/slurm.conf
cat > "$SLURM_CONF" << EOF
ClusterName=asyncpstest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
KillWait=10
# a 2-CPU machine declared with 8: 2 shards + 3 workers are 5 one-CPU tasks
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$HOST CPUs=8 RealMemory=4000 State=UNKNOWN
PartitionName=asyncps Nodes=$NODE Default=YES MaxTime=30 State=UP
EOF
ASYNCPS_SLURM_TEST_TAG=$TMP slurmctld -D -i -f "$SLURM_CONF" > "$TMP/log/slurmctld.out" 2>&1 &
CTLD_PID=$!
ASYNCPS_SLURM_TEST_TAG=$TMP slurmd -D -N "$NODE" -f "$SLURM_CONF" > "$TMP/log/slurmd.out" 2>&1 &
SLURMD_PID=$!
for _ in $(seq 1 60); do
  [[ $(sinfo --noheader --nodes="$NODE" --format=%t 2> /dev/null) == idle ]] && break
  kill -0 "$CTLD_PID" 2> /dev/null || fail "slurmctld exited: $(tail -n 5 "$TMP/log/slurmctld.log" "$TMP/log/slurmctld.out")"
  kill -0 "$SLURMD_PID" 2> /dev/null || fail "slurmd exited: $(tail -n 5 "$TMP/log/slurmd.log" "$TMP/log/slurmd.out")"
  sleep 0.5
done
[[ $(sinfo --noheader --nodes="$NODE" --format=%t) == idle ]] || fail "node $NODE is not idle: $(sinfo)"
log "cluster up: slurmctld :$CTLD_PORT, slurmd $NODE :$SLURMD_PORT (Slurm $(sinfo --version | cut -d' ' -f2))"

# ---- the jobs ----------------------------------------------------------------------------------
export PATH=$BIN_DIR:$PATH
TRAIN=(--algo adag --batch-size 16 --window 5 --optimizer adam --lr 0.001 --seed 42 --test-limit 2000)

# submit NAME TASKS FLAGS...: submits the job in $TMP/NAME; prints its id
submit() {
  local name=$1 tasks=$2
  shift 2
  mkdir -p "$TMP/$name"
  (cd "$TMP/$name" && ASYNCPS_SLURM_TEST_TAG=$TMP sbatch --parsable --ntasks="$tasks" --time=10 --output=job.out \
    "$ROOT/deploy/slurm/asyncps.sbatch" "$@")
}

# wait_job ID LIMIT: waits until job ID left the queue; its exit code ("0:0" form) on stdout
wait_job() {
  local id=$1 limit=$2 start=$SECONDS
  while [[ -n $(squeue --noheader --jobs "$id" 2> /dev/null) ]]; do
    ((SECONDS - start < limit)) || fail "job $id still runs after $limit s"
    sleep 1
  done
  scontrol show job "$id" | grep -oP '(^|\s)ExitCode=\K\S+'
}

# check_report NAME ROWS EPOCHS: the report in NAME's output has the exact update count of 3
# workers at batch 16 and window 5 (each: ceil(epochs * ceil(rows_w / 16) / 5)) and the accuracy
check_report() {
  local name=$1 rows=$2 epochs=$3 out=$TMP/$1/job.out expected=0 w rows_w updates accuracy
  for w in 0 1 2; do
    rows_w=$(((w + 1) * rows / 3 - w * rows / 3))
    expected=$((expected + (epochs * ((rows_w + 15) / 16) + 4) / 5))
  done
  updates=$(grep -oP 'Number of parameter server updates: *\K[0-9]+' "$out") || fail "$name: no update count in the report"
  accuracy=$(grep -oP '^Accuracy: *\K[0-9.]+' "$out") || fail "$name: no accuracy in the report"
  [[ $updates == "$expected" ]] || fail "$name: $updates parameter server updates, expected $expected"
  awk -v a="$accuracy" -v m="$MIN_ACCURACY" 'BEGIN { exit !(a >= m) }' || fail "$name: accuracy $accuracy < $MIN_ACCURACY"
  grep -q "PS updates: $expected applied, $expected expected" "$out" || fail "$name: the report's check of the update count failed"
  log "$name: $updates updates (expected $expected), accuracy $accuracy"
}

# Job 0: keys that others can read are refused before anything starts.
mkdir -p "$TMP/loose-keys"
(cd "$TMP/loose-keys" && asyncps-keygen server > /dev/null && asyncps-keygen client > /dev/null)
chmod 644 "$TMP/loose-keys/client.key"
id=$(ASYNCPS_SLURM_KEYS=$TMP/loose-keys submit job0 5 "${TRAIN[@]}" --epochs 1 --train-limit 300)
rc=$(wait_job "$id" 60)
[[ $rc == 2:0 ]] || fail "job0 (readable keys) ended with exit code $rc, expected 2"
grep -q "client.key can be read by others (mode 644)" "$TMP/job0/job.out" || fail "job0: no clear refusal: $(cat "$TMP/job0/job.out")"
log "job0: keys readable by others refused"

# Job 1: a plain run.
id=$(submit job1 5 "${TRAIN[@]}" --epochs 1 --train-limit 3000)
log "job1 ($id): 2 shards + 3 workers, 1 epoch on 3,000 rows"
rc=$(wait_job "$id" 180)
[[ $rc == 0:0 ]] || fail "job1 ended with exit code $rc"
check_report job1 3000 1
run_dir=$TMP/job1/asyncps-$id
[[ $(stat -c %a "$run_dir/keys") == 700 && $(stat -c %a "$run_dir/keys/client.key") == 600 ]] ||
  fail "job1: the CURVE keys can be read by others: $(ls -la "$run_dir/keys")"
grep -q "CURVE security on" "$run_dir/shards/shard-0.log" || fail "job1: the shards ran without CURVE"
ls "$run_dir/checkpoints"/shard-{0,1}-of-2.ckpt > /dev/null || fail "job1: no checkpoints in $run_dir/checkpoints"

# Job 2: shard 1 crashes mid-run and must come back.
id=$(ASYNCPS_CHECKPOINT_EVERY=0.5 submit job2 5 "${TRAIN[@]}" --epochs 2 --train-limit 6000)
log "job2 ($id): the same, 2 epochs on 6,000 rows; shard 1's step gets SIGKILL mid-run"
run_dir=$TMP/job2/asyncps-$id
start=$SECONDS
until grep -qs "epoch 1/2 batch [1-9][0-9]" "$TMP/job2/job.out"; do
  ((SECONDS - start < 120)) || fail "job2: no training progress within 120 s"
  sleep 0.2
done
step=$(squeue --steps --noheader --jobs "$id" --format='%i %j' | awk '$2 == "shard-1" { print $1 }')
[[ -n $step ]] || fail "job2: no step named shard-1: $(squeue --steps --jobs "$id")"
scancel --signal=KILL "$step"
log "job2: killed step $step (shard-1)"
rc=$(wait_job "$id" 240)
[[ $rc == 0:0 ]] || fail "job2 ended with exit code $rc"
grep -q "shard 1 ended (srun exit [0-9]*) while the workers run: restart 1 of 3" "$TMP/job2/job.out" ||
  fail "job2: the job did not restart shard 1"
grep -q "shard 1 restored from .*shard-1-of-2.ckpt" "$run_dir/shards/shard-1.log" || fail "job2: shard 1 did not restore its checkpoint"
first=$(grep -oP 'shard 1 of 2 listening on \K\S+' "$run_dir/shards/shard-1.log" | head -n 1)
again=$(grep -oP 'shard 1 of 2 listening on \K\S+' "$run_dir/shards/shard-1.log" | tail -n 1)
[[ -n $first && $first == "$again" ]] || fail "job2: shard 1 came back on '$again', not on its endpoint '$first'"
grep -qP 'shard 1 was restarted from its checkpoint at \d+ updates' "$TMP/job2/job.out" ||
  fail "job2: the report does not account for shard 1's restart"
check_report job2 6000 2
