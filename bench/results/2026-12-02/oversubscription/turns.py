"""Runs three copies of a command, two at a time: every SLICE seconds the next one
is stopped (SIGSTOP) and the others continue (SIGCONT). Usage: turns.py SLICE CMD..."""
import signal
import subprocess
import sys
import time

slice_s, cmd = float(sys.argv[1]), sys.argv[2:]
procs = [subprocess.Popen(cmd) for _ in range(3)]
turn = 0
while any(p.poll() is None for p in procs):
    for i, p in enumerate(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGSTOP if i == turn % 3 else signal.SIGCONT)
    time.sleep(slice_s)
    turn += 1
for p in procs:
    if p.poll() is None:
        p.send_signal(signal.SIGCONT)
    p.wait()
