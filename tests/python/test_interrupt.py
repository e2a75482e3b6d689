"""Ctrl-C during a call that waits (a shard that never answers, a pull held by
the staleness bound) raises KeyboardInterrupt within a fraction of a second,
not when the call's deadline passes; the client stays usable."""
import os
import signal
import socket
import threading
import time

import numpy as np
import pytest

import asyncps
import asyncps.server

LAYOUT = [("w", (4,))]
SIGNAL_AFTER = 0.3  # seconds into the call
PROMPT = 1.0        # the most a KeyboardInterrupt may take after the signal


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Python's own SIGINT handler (KeyboardInterrupt), as in a script."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def ctrl_c_during(call):
    """Runs call() and sends this process SIGINT (as Ctrl-C does) from another
    thread SIGNAL_AFTER seconds into it. Returns what the call came to
    (KeyboardInterrupt, the asyncps.Error it raised, or "returned") and the
    seconds from the signal to the KeyboardInterrupt."""
    sent = []

    def fire():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(SIGNAL_AFTER, fire)
    timer.start()
    outcome = "returned"
    try:
        try:
            call()
        except asyncps.Error as e:
            outcome = e
        time.sleep(PROMPT)  # not interrupted during the call: the KeyboardInterrupt comes here
    except KeyboardInterrupt:
        if outcome == "returned":
            outcome = KeyboardInterrupt
    finally:
        timer.cancel()
        timer.join()
    assert sent, "the signal was never sent"
    return outcome, time.monotonic() - sent[0]


def test_ctrl_c_interrupts_a_connect_to_a_server_that_never_answers():
    with socket.socket() as silent:  # bound, never listening: nothing answers
        silent.bind(("127.0.0.1", 0))
        endpoint = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        outcome, took = ctrl_c_during(lambda: asyncps.Client([endpoint], LAYOUT, connect_deadline=5.0))
    assert outcome is KeyboardInterrupt and took < PROMPT, f"{outcome!r}, {took:.2f} s after the signal"


def test_ctrl_c_interrupts_a_pull_held_by_the_staleness_bound_and_the_client_works_on():
    with asyncps.server.LocalServer(shards=2, extra_args=["--max-staleness", "0"]) as server, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=0) as fast, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=1) as slow:
        assert fast.init(np.zeros(4, dtype=np.float32))
        got = np.zeros(4, dtype=np.float32)
        # Should the interrupt not come, the slow worker's leave() releases the
        # held pull after a while, so that this test ends either way.
        release = threading.Timer(SIGNAL_AFTER + 5.0, slow.leave)
        release.start()
        try:
            # Held: the slow worker has not committed yet.
            outcome, took = ctrl_c_during(lambda: fast.commit_and_pull(np.ones(4, dtype=np.float32), got))
        finally:
            release.cancel()
            release.join()
        assert outcome is KeyboardInterrupt and took < PROMPT, f"{outcome!r}, {took:.2f} s after the signal"
        # The request was abandoned; the client works on.
        slow.leave()
        fast.commit_and_pull(np.ones(4, dtype=np.float32), got)
        slow.pull(got)
        np.testing.assert_array_equal(got, np.full(4, 2, dtype=np.float32))  # both commits, each applied once


def test_ctrl_c_interrupts_the_wait_for_an_overlapped_exchange_and_the_driver_finishes_after():
    with asyncps.server.LocalServer(shards=1, extra_args=["--max-staleness", "0"]) as server, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=0) as fast, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=1) as slow:
        w = np.zeros(4, dtype=np.float32)
        assert fast.init(w)
        driver = asyncps.RuleDriver(fast, window=1, overlap=True)
        driver.start(w)
        w += 1
        driver.after_batch(w)  # its exchange runs on the driver's thread, held: worker 1 has not committed
        w += 1
        release = threading.Timer(SIGNAL_AFTER + 5.0, slow.leave)
        release.start()
        try:
            # The next boundary waits for that exchange.
            outcome, took = ctrl_c_during(lambda: driver.after_batch(w))
        finally:
            release.cancel()
            release.join()
        assert outcome is KeyboardInterrupt and took < PROMPT, f"{outcome!r}, {took:.2f} s after the signal"
        slow.leave()
        driver.finish(w)
        assert driver.commits == 2
        got = np.zeros(4, dtype=np.float32)
        slow.pull(got)
        np.testing.assert_array_equal(got, np.full(4, 2, dtype=np.float32))  # both batches, each applied once
