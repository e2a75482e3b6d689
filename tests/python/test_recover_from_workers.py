"""Recovery from the workers with Python workers: of two shards without
checkpoints, shard 1 is killed with SIGKILL while three asyncps.RuleDriver
threads train, and restarted with --recover-from-workers; the run completes
(the C++ test with the same shape: tests/server/restart_test.cpp)."""
import threading
import time

import numpy as np

import asyncps

LAYOUT = [("w", (64,))]
N = 64
WORKERS = 3
BATCHES = 150
OPTIONS = dict(algorithm="downpour", request_timeout=0.3, retry_backoff_initial=0.05, retry_backoff_max=0.4,
               retry_deadline=15.0, heartbeat_interval=0.2)


def shard(index, bind="tcp://127.0.0.1:*", extra=()):
    flags = ["--first-shard", str(index), "--num-shards", "2", *extra]
    return asyncps.server.LocalServer(bind=bind, extra_args=flags).start()


def test_a_shard_restarted_with_no_checkpoint_takes_back_a_python_workers_copy():
    recover = ["--recover-from-workers"]
    shard0, shard1 = shard(0), shard(1, extra=recover)
    endpoints = [shard0.endpoints[0], shard1.endpoints[0]]
    clients = [asyncps.Client(endpoints, LAYOUT, worker_id=k + 1, **OPTIONS) for k in range(WORKERS)]
    try:
        clients[0].init(np.zeros(N, dtype=np.float32))
        commits, errors = [0] * WORKERS, []
        started = threading.Semaphore(0)  # released by each worker 10 batches in: it has a copy

        def work(k):
            try:
                driver = asyncps.RuleDriver(clients[k], window=1)
                w = np.zeros(N, dtype=np.float32)
                driver.start(w)
                for b in range(BATCHES):
                    driver.before_batch(w)
                    w += 1  # every DOWNPOUR commit adds exactly 1 to every element
                    driver.after_batch(w)
                    if b == 10:
                        started.release()
                    time.sleep(0.004)
                driver.finish(w)
                commits[k] = driver.commits
            except asyncps.Error as e:  # reported below, with the worker
                errors.append((k, e))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(WORKERS)]
        for t in threads:
            t.start()
        # Mid-run (140 batches left, none sent while shard 1 is down).
        for _ in range(WORKERS):
            assert started.acquire(timeout=30)
        shard1.process.kill()
        shard1.process.wait()
        shard1.stop()
        time.sleep(0.5)
        shard1 = shard(1, endpoints[1], recover)
        for t in threads:
            t.join(90)
        assert errors == []
        assert commits == [BATCHES] * WORKERS
        total = sum(commits)
        s0, s1 = clients[0].stats()
        w = np.empty(N, dtype=np.float32)
        clients[0].pull(w)
        # Shard 0 untouched: every commit. Shard 1 holds a worker's copy (value
        # U at update U) counted on from there: its centre equals its count.
        assert s0["updates"] == total
        assert 0 < s1["recovered_updates"] < s1["updates"] <= total
        begin, end = s1["range"]
        assert (w[:begin] == total).all(), w[:4]
        assert (w[begin:end] == s1["updates"]).all(), w[begin:begin + 4]
    finally:
        for c in clients:
            c.close()
        shard0.stop()
        shard1.stop()
