#!/bin/bash
# deploy/slurm/task.sh: one task of an asyncps Slurm job, run by asyncps.sbatch through srun.
#
#   task.sh shard I RUN_DIR     shard I of ASYNCPS_NUM_SHARDS (its own job step, so that it can be
#                               restarted alone); binds this node's address, writes its endpoint
#                               to RUN_DIR/shards/shard-I.ready, keeps its checkpoint in
#                               ASYNCPS_CHECKPOINT_DIR
#   task.sh worker RUN_DIR [FLAGS...]
#                               worker SLURM_PROCID of SLURM_NTASKS; its report goes to
#                               RUN_DIR/reports/worker-<index>.json
#
# The node's address is Slurm's NodeAddr for SLURMD_NODENAME (scontrol), or ASYNCPS_SLURM_ADDRESS
# (e.g. the address of a faster interface). A shard's first start takes a free port, or
# ASYNCPS_SLURM_BASE_PORT + I when set; a restarted shard binds the endpoint it had, so the
# workers find it again. CURVE keys come from RUN_DIR/keys (see asyncps.sbatch).
set -euo pipefail

die() { echo "asyncps task.sh: $*" >&2; exit 2; }
[[ $# -ge 2 ]] || die "usage: task.sh shard I RUN_DIR | task.sh worker RUN_DIR [FLAGS...]"
role=$1
shift

node_address() {
  if [[ -n ${ASYNCPS_SLURM_ADDRESS:-} ]]; then
    echo "$ASYNCPS_SLURM_ADDRESS"
    return
  fi
  [[ -n ${SLURMD_NODENAME:-} ]] || die "SLURMD_NODENAME is not set: run me through srun"
  local addr
  addr=$(scontrol show node -o "$SLURMD_NODENAME" | grep -oE '(^| )NodeAddr=[^ ]+' | cut -d= -f2)
  [[ -n $addr ]] || die "scontrol gives no NodeAddr for node $SLURMD_NODENAME"
  # ZeroMQ binds IP addresses only: resolve a host name.
  if [[ ! $addr =~ ^[0-9.]+$ && ! $addr =~ : ]]; then
    local ip
    ip=$(getent ahostsv4 "$addr" | awk 'NR == 1 { print $1 }')
    [[ -n $ip ]] || die "node address '$addr' of $SLURMD_NODENAME does not resolve"
    addr=$ip
  fi
  echo "$addr"
}

case $role in
  shard)
    [[ $# -eq 2 ]] || die "usage: task.sh shard I RUN_DIR"
    index=$1 run_dir=$2
    [[ $index =~ ^[0-9]+$ ]] || die "shard index '$index' is not a number"
    ready=$run_dir/shards/shard-$index.ready
    if [[ -s $ready ]]; then
      bind=$(head -n 1 "$ready")  # a restart: the endpoint the workers already use
      echo "asyncps task.sh: shard $index restarts on $bind (restoring its checkpoint)" >&2
    elif [[ -n ${ASYNCPS_SLURM_BASE_PORT:-} ]]; then
      bind="tcp://$(node_address):$((ASYNCPS_SLURM_BASE_PORT + index))"
    else
      bind="tcp://$(node_address):*"
    fi
    exec asyncps-server --first-shard "$index" --shards 1 --num-shards "$ASYNCPS_NUM_SHARDS" \
      --bind "$bind" --ready-file "$ready" \
      --curve-secret-key-file "$run_dir/keys/server.key" --curve-allow "$run_dir/keys/client.pub"
    ;;
  worker)
    run_dir=$1
    shift
    [[ -n ${SLURM_PROCID:-} && -n ${SLURM_NTASKS:-} ]] || die "SLURM_PROCID/SLURM_NTASKS are not set: run me through srun"
    exec asyncps-worker --worker-index "$SLURM_PROCID" --num-workers "$SLURM_NTASKS" \
      --report-json "$run_dir/reports/worker-$SLURM_PROCID.json" \
      --curve-server-key-file "$run_dir/keys/server.pub" --curve-secret-key-file "$run_dir/keys/client.key" "$@"
    ;;
  *) die "unknown role '$role' (shard or worker)" ;;
esac
