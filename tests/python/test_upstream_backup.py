"""Upstream backup from Python clients: a shard killed with SIGKILL and
restarted from its checkpoint while three asyncps.Client threads commit loses
no commit (the C++ test with the same shape: tests/server/restart_test.cpp)."""
import random
import threading
import time

import numpy as np

import asyncps

LAYOUT = [("w", (64,))]
N = 64
WORKERS = 3
COMMITS = 120
KILLS = 3


def start(bind, checkpoints):
    return asyncps.server.LocalServer(
        bind=bind, extra_args=["--checkpoint-dir", str(checkpoints), "--checkpoint-every", "0.1"]).start()


def kill(server):
    server.process.kill()
    server.process.wait()
    server.stop()  # reaps nothing more; removes its folder


def test_a_shard_killed_while_python_clients_commit_loses_nothing(tmp_path):
    server = start("tcp://127.0.0.1:*", tmp_path)
    endpoint = server.endpoints[0]
    options = dict(algorithm="downpour", request_timeout=0.3, retry_backoff_initial=0.05, retry_backoff_max=0.4,
                   retry_deadline=15.0, heartbeat_interval=0.2)
    clients = [asyncps.Client([endpoint], LAYOUT, worker_id=k + 1, **options) for k in range(WORKERS)]
    try:
        clients[0].init(np.zeros(N, dtype=np.float32))
        clients[0].commit(np.zeros(N, dtype=np.float32))
        deadline = time.monotonic() + 20
        while clients[0].stats()[0]["checkpointed_updates"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert clients[0].stats()[0]["checkpointed_updates"] >= 1

        kills_over = threading.Event()
        errors = []

        def work(k):
            try:
                w = np.zeros(N, dtype=np.float32)
                for j in range(COMMITS):
                    clients[k].commit_and_pull(np.full(N, k + 1 + j % 3, dtype=np.float32), w)
                    time.sleep(0.004)
                kills_over.wait(60)
                clients[k].leave()
            except asyncps.Error as e:  # reported below, with the worker
                errors.append((k, e))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(WORKERS)]
        for t in threads:
            t.start()
        rng = random.Random(5)
        for _ in range(KILLS):
            time.sleep(0.05 + rng.random() * 0.25)
            kill(server)
            server = start(endpoint, tmp_path)
        kills_over.set()
        for t in threads:
            t.join(90)
        assert errors == []
        w = np.empty(N, dtype=np.float32)
        clients[0].pull(w)
        expected = sum(k + 1 + j % 3 for k in range(WORKERS) for j in range(COMMITS))
        assert (w == expected).all(), w[:4]
        stats = clients[0].stats()[0]
        assert stats["updates"] == 1 + WORKERS * COMMITS
        assert stats["restored_updates"] > 0
    finally:
        for c in clients:
            c.close()
        server.stop()
