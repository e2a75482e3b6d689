"""asyncps.Client against a real asyncps-server: zero-copy arrays, checked
arguments, errors as asyncps.Error subclasses, deadlines, the GIL."""
import datetime
import socket
import threading
import time

import numpy as np
import pytest
import torch

import asyncps

LAYOUT = [("dense/kernel", (4, 3)), ("dense/bias", (3,))]
N = 15


def weights(start=0.0):
    return np.arange(start, start + N, dtype=np.float32)


def test_pull_writes_into_the_callers_memory(server2):
    with asyncps.Client(server2.endpoints, LAYOUT) as c:
        assert c.init(weights(1.0)) is True
        # A numpy view into a larger array: the client writes exactly there.
        big = np.full(N + 4, -7.0, dtype=np.float32)
        view = big[2:2 + N]
        c.pull(view)
        np.testing.assert_array_equal(big[2:2 + N], weights(1.0))
        assert big[0] == big[1] == big[-1] == big[-2] == -7.0
        # A torch tensor through its numpy view: the tensor sees the values.
        t = torch.zeros(N)
        c.pull(t.numpy())
        np.testing.assert_array_equal(t.numpy(), weights(1.0))
        # The commit reads the caller's memory as it is at the call.
        payload = np.zeros(N, dtype=np.float32)
        payload[3] = 0.5
        c.commit_and_pull(payload, view)
        assert big[2 + 3] == 4.0 + 0.5


def test_init_first_wins_and_commits_are_counted(server):
    with asyncps.Client(server.endpoints, LAYOUT, worker_id=3) as a, \
            asyncps.Client(server.endpoints, LAYOUT, worker_id=4) as b:
        assert a.init(weights(0.0)) is True
        assert b.init(weights(100.0)) is False  # another worker won
        w = np.empty(N, dtype=np.float32)
        b.pull(w)
        np.testing.assert_array_equal(w, weights(0.0))
        a.commit(np.ones(N, dtype=np.float32))
        b.commit_and_pull(np.ones(N, dtype=np.float32), w)
        np.testing.assert_array_equal(w, weights(2.0))
        (s,) = a.stats()
        assert s["updates"] == 2 and s["errors"] == 0 and s["initialised"]
        assert s["commits_per_worker"] == {3: 1, 4: 1}
        assert s["pulls"] >= 2 and s["range"] == (0, N) and s["endpoint"] == server.endpoints[0]
        assert a.last_pulled_updates(0) == 0 and b.last_pulled_updates(0) == 2


def test_pull_before_init_raises_not_initialised(server):
    with asyncps.Client(server.endpoints, LAYOUT) as c:
        with pytest.raises(asyncps.NotInitialised) as e:
            c.pull(np.zeros(N, dtype=np.float32))
        assert isinstance(e.value, asyncps.Error) and e.value.code == "not initialised"


@pytest.mark.parametrize("make, message", [
    (lambda: np.zeros(N, dtype=np.float64), "must hold float32"),
    (lambda: np.zeros(N, dtype=np.int32), "must hold float32"),
    (lambda: np.zeros(N, dtype=">f4"), "must hold float32"),
    (lambda: np.zeros((5, 3), dtype=np.float32), r"one-dimensional .* not of shape \(5, 3\)"),
    (lambda: np.zeros(2 * N, dtype=np.float32)[::2], "must be contiguous"),
    (lambda: np.zeros(N + 1, dtype=np.float32), "has 16 float32 elements but the layout has 15"),
    (lambda: [0.0] * N, "buffer protocol.*not list"),
])
def test_a_wrong_array_raises_value_error_naming_the_problem(server, make, message):
    with asyncps.Client(server.endpoints, LAYOUT) as c:
        c.init(weights())
        for call in (lambda a: c.pull(a), lambda a: c.commit(a), lambda a: c.init(a)):
            with pytest.raises(asyncps.InvalidArgument, match=message) as e:
                call(make())
            assert isinstance(e.value, ValueError)
        assert c.stats()[0]["updates"] == 0  # nothing reached the PS


def test_pull_into_a_read_only_array_raises(server):
    with asyncps.Client(server.endpoints, LAYOUT) as c:
        c.init(weights())
        ro = weights()
        ro.flags.writeable = False
        c.commit(np.zeros(N, dtype=np.float32) + ro * 0)  # reading a read-only array is fine
        with pytest.raises(ValueError, match="read-only"):
            c.pull(ro)


def test_a_layout_other_than_the_runs_raises_mismatch_naming_the_tensor(server):
    with asyncps.Client(server.endpoints, LAYOUT) as c:
        c.init(weights())
    with pytest.raises(asyncps.Mismatch, match="dense/kernel"):
        asyncps.Client(server.endpoints, [("dense/kernel", (3, 4)), ("dense/bias", (3,))])
    with pytest.raises(asyncps.Mismatch):
        asyncps.Client(server.endpoints, LAYOUT, algorithm="easgd")


def test_a_nan_commit_is_refused_before_it_is_sent(server):
    with asyncps.Client(server.endpoints, LAYOUT) as c:
        c.init(weights())
        bad = np.zeros(N, dtype=np.float32)
        bad[7] = np.nan
        with pytest.raises(asyncps.InvalidArgument, match="element 7 is NaN"):
            c.commit(bad)
        assert c.stats()[0]["updates"] == 0


def a_dead_endpoint():
    """A 127.0.0.1 port bound by this test but never listening (nothing
    answers, and no other test can take it meanwhile)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s, f"tcp://127.0.0.1:{s.getsockname()[1]}"


def test_a_dead_server_raises_timeout_within_the_connect_deadline_naming_it():
    sock, endpoint = a_dead_endpoint()
    with sock:
        start = time.monotonic()
        with pytest.raises(asyncps.Timeout, match=endpoint.replace("tcp://", "")) as e:
            asyncps.Client([endpoint], LAYOUT, connect_deadline=1.0)
        elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3.0, elapsed
    assert isinstance(e.value, TimeoutError) and e.value.code == "timeout"


def test_the_gil_is_released_while_waiting_for_the_network():
    sock, endpoint = a_dead_endpoint()
    ticks, stop = [0], threading.Event()

    def count():  # a data-loader stand-in: pure Python, needs the GIL
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    with sock:
        t.start()
        time.sleep(0.05)
        before = ticks[0]
        with pytest.raises(asyncps.Timeout):
            asyncps.Client([endpoint], LAYOUT, connect_deadline=1.0)
        during = ticks[0] - before
    stop.set()
    t.join()
    # Held GIL: the thread would not run at all during the 1 s wait.
    assert during > 100, during


def test_a_dead_shard_mid_run_raises_timeout_within_the_retry_deadline():
    import asyncps.server
    server = asyncps.server.LocalServer().start()
    try:
        c = asyncps.Client(server.endpoints, LAYOUT, request_timeout=0.2, retry_deadline=1.0)
        c.init(weights())
    finally:
        server.stop()
    start = time.monotonic()
    with pytest.raises(asyncps.Timeout, match=server.endpoints[0].replace("tcp://", "")):
        c.pull(np.zeros(N, dtype=np.float32))
    assert time.monotonic() - start < 3.0
    c.close()


def test_options_by_keyword_and_unknown_ones_named(server):
    with asyncps.Client(",".join(server.endpoints), LAYOUT, worker_id=9, algorithm="dynsgd",
                        request_timeout=0.5, retry_deadline=2, max_attempts=3, pull_encoding="bf16",
                        commit_encoding="bf16", commit_top_k=0.5) as c:
        o = c.options
        assert (o["worker_id"], o["algorithm"], o["request_timeout"], o["retry_deadline"]) == (9, "dynsgd", 0.5, 2.0)
        assert (o["pull_encoding"], o["commit_encoding"], o["commit_top_k"]) == ("bf16", "bf16", 0.5)
        assert c.num_shards == 1 and c.layout.total_size == N
    with pytest.raises(asyncps.InvalidArgument, match="unknown client option 'request_timout'"):
        asyncps.Client(server.endpoints, LAYOUT, request_timout=1)
    with pytest.raises(asyncps.InvalidArgument, match="request_timeout must be a number of seconds"):
        asyncps.Client(server.endpoints, LAYOUT, request_timeout="1s")
    with pytest.raises(asyncps.InvalidArgument, match="pull_encoding"):
        asyncps.Client(server.endpoints, LAYOUT, pull_encoding="fp8")
    with pytest.raises(asyncps.InvalidArgument, match="algorithm"):
        asyncps.Client(server.endpoints, LAYOUT, algorithm="sgd")
    with pytest.raises(asyncps.InvalidArgument, match="no servers"):
        asyncps.Client([], LAYOUT)


def test_every_option_of_the_table_is_a_keyword(server2):
    with asyncps.Client(server2.endpoints, LAYOUT, reply_chunk_bytes=1 << 16, interrupt_interval=0.05,
                        heartbeat_interval=datetime.timedelta(seconds=2), retry_backoff_initial=0.2,
                        retry_backoff_max=1, error_feedback=False, max_attempts=2, shared_memory=False) as c:
        o = c.options
        assert (o["reply_chunk_bytes"], o["interrupt_interval"], o["heartbeat_interval"]) == (1 << 16, 0.05, 2.0)
        assert (o["retry_backoff_initial"], o["retry_backoff_max"], o["max_attempts"]) == (0.2, 1.0, 2)
        assert o["error_feedback"] is False and o["observer"] is False
        assert o["servers"] == server2.endpoints and o["curve_server_key"] == ""
        assert "curve_secret_key" not in o
        names = list(o)
        assert c.init(weights(2.0))
        w = np.zeros(N, dtype=np.float32)
        c.pull(w)
        np.testing.assert_array_equal(w, weights(2.0))
    with asyncps.Client(server2.endpoints, LAYOUT, observer=True) as c:
        assert c.options["observer"] is True
        # Defaults: the C++ struct's.
        assert (c.options["request_timeout"], c.options["reply_chunk_bytes"]) == (5.0, 0)
    doc = asyncps.Client.__doc__
    for name in names:
        assert "  " + name + " (" in doc
    assert "reply_chunk_bytes (0)" in doc and "request_timeout (5.0 s)" in doc


def test_option_values_are_checked_by_the_table(server):
    def refused(match, **kwargs):
        with pytest.raises(asyncps.InvalidArgument, match=match):
            asyncps.Client(server.endpoints, LAYOUT, **kwargs)

    refused(r"unknown client option 'reply_chunk_byte' \(did you mean 'reply_chunk_bytes'\?\); "
            r"the options are: servers, worker_id, algorithm, request_timeout", reply_chunk_byte=1)
    refused("unknown client option 'colour'; the options are", colour=1)
    refused("reply_chunk_bytes must be an int, not float", reply_chunk_bytes=1.5)
    refused("reply_chunk_bytes must be an int >= 0 bytes, not -1", reply_chunk_bytes=-1)
    refused("max_attempts must be >= 0, not -1", max_attempts=-1)
    refused(r"request_timeout must be a number of seconds in \[0.001, 1e\+09\] s, not 0", request_timeout=0)
    refused(r"heartbeat_interval must be a number of seconds in \[0, 86400\] s", heartbeat_interval=-1)
    refused(r"commit_top_k must be in \[0, 1\), not 1", commit_top_k=1)
    refused("observer must be True or False, not int", observer=1)
    refused(r"worker_id must be an int in \[0, 4294967295\], not -1", worker_id=-1)
    refused("worker_id must be an int, not bool", worker_id=True)
    refused(r"retry_backoff_max \(50 ms\) must be >= retry_backoff_initial \(100 ms\)", retry_backoff_max=0.05)


def test_a_closed_client_raises(server):
    c = asyncps.Client(server.endpoints, LAYOUT)
    c.close()
    c.close()
    with pytest.raises(asyncps.InvalidArgument, match="closed"):
        c.pull(np.zeros(N, dtype=np.float32))


def test_error_classes_form_one_hierarchy():
    for cls in (asyncps.InvalidArgument, asyncps.Mismatch, asyncps.NotInitialised, asyncps.AlreadyInitialised,
                asyncps.Timeout, asyncps.Unavailable, asyncps.ProtocolError, asyncps.Unauthorised, asyncps.IOError,
                asyncps.Internal):
        assert issubclass(cls, asyncps.Error) and cls.__module__ == "asyncps"
    assert issubclass(asyncps.Timeout, TimeoutError) and issubclass(asyncps.Unavailable, ConnectionError)
    assert issubclass(asyncps.Unauthorised, PermissionError) and issubclass(asyncps.InvalidArgument, ValueError)


@pytest.mark.skipif(not asyncps.curve_available(), reason="this libzmq has no CURVE")
def test_curve_keys_by_keyword(tmp_path):
    import asyncps.server
    server_pub, server_secret = asyncps.generate_curve_key_pair()
    client_pub, client_secret = asyncps.generate_curve_key_pair()
    _, stranger_secret = asyncps.generate_curve_key_pair()
    assert asyncps.curve_public_key(client_secret) == client_pub
    key = tmp_path / "server.key"
    key.write_text("# asyncps test key\n" + server_secret + "\n")
    key.chmod(0o600)
    assert asyncps.read_curve_key_file(str(key)) == server_secret
    (tmp_path / "allowed.txt").write_text(client_pub + " worker-0\n")
    args = ["--curve-secret-key-file", str(key), "--curve-allow", str(tmp_path / "allowed.txt")]
    with asyncps.server.LocalServer(extra_args=args) as server:
        with asyncps.Client(server.endpoints, LAYOUT, curve_server_key=server_pub,
                            curve_secret_key=client_secret) as c:
            assert c.init(weights())
            assert "curve_secret_key" not in c.options
        with pytest.raises(asyncps.Unauthorised):
            asyncps.Client(server.endpoints, LAYOUT, curve_server_key=server_pub, curve_secret_key=stranger_secret,
                           connect_deadline=3)
    with pytest.raises(asyncps.InvalidArgument, match="curve"):
        asyncps.Client(["tcp://127.0.0.1:1"], LAYOUT, curve_server_key="short", curve_secret_key=client_secret)


def test_training_loss_and_test_accuracy_go_to_the_servers_checked(server):
    with asyncps.Client(server.endpoints, LAYOUT, worker_id=5, window=4) as c:
        assert c.options["window"] == 4
        c.init(weights())
        with pytest.raises(asyncps.InvalidArgument, match="not a finite number"):
            c.report_training_loss(float("nan"))
        c.report_training_loss(0.5)
        c.commit(np.ones(N, dtype=np.float32))
        with pytest.raises(asyncps.InvalidArgument, match=r"not in \[0, 1\]"):
            c.report_test_accuracy(1.5, 1)
        c.report_test_accuracy(0.75, c.last_pulled_updates(0))
        # An update count past the shard's: the server refuses it.
        with pytest.raises(asyncps.Error, match="past this shard's"):
            c.report_test_accuracy(0.75, 99)
        driver = asyncps.RuleDriver(c, window=1)
        w = np.zeros(N, dtype=np.float32)
        driver.start(w)
        driver.record_loss(0.25)
        driver.after_batch(w)
        c.leave(finished=False)
        (s,) = c.stats()
        assert s["updates"] == 2
