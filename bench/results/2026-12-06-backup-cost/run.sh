#!/bin/bash
cd /work/main
for i in 1 2 3 4 5; do
  for backup in true false; do
    rm -rf /tmp/ck
    echo "== pair $i backup $backup $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
    ASYNCPS_UPSTREAM_BACKUP=$backup build/bin/asyncps-local --algo adag --workers 3 --shards 2 --batch-size 16 --window 5 --epochs 1 --optimizer adam --lr 0.001 --checkpoint-dir /tmp/ck 2>&1 | grep -iE "training|updates|accuracy" | head -6
  done
done
