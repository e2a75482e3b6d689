"""asyncps: the Python client of the asyncps parameter server.

    import asyncps
    client = asyncps.Client(["tcp://127.0.0.1:5555"], [("dense/kernel", (784, 10)), ("dense/bias", (10,))],
                            worker_id=0, algorithm="adag")
    w = numpy.zeros(client.layout.total_size, numpy.float32)
    client.init(w)                       # the first worker's weights win
    driver = asyncps.RuleDriver(client)  # the worker side of the rule, around your loop
    driver.start(w)
    ...

Submodules, imported on demand: asyncps.torch (DistributedOptimizer, seed_cnn;
needs PyTorch), asyncps.mnist (MNIST-format IDX files, numpy only),
asyncps.server (asyncps-server as a child process). `import asyncps` itself
needs neither numpy nor torch: arrays are taken through the buffer protocol.

Every failure raises an asyncps.Error subclass (InvalidArgument is also a
ValueError, Timeout a TimeoutError, Unavailable a ConnectionError, Unauthorised
a PermissionError, IOError an OSError) whose message is the C++ Status message.
"""
from ._asyncps import (
    AlreadyInitialised,
    Client,
    Error,
    Internal,
    InvalidArgument,
    Layout,
    Mismatch,
    NotInitialised,
    ProtocolError,
    RuleDriver,
    Timeout,
    Unauthorised,
    Unavailable,
    curve_available,
    curve_public_key,
    expected_commits,
    generate_curve_key_pair,
    read_curve_key_file,
    rule_config,
)
from ._asyncps import IOError  # noqa: F401  (re-exported as asyncps.IOError; kept out of __all__, see below)
from ._asyncps import __version__  # noqa: F401  (the project's version, compiled into the extension)

# asyncps.IOError is left out of __all__: `from asyncps import *` must not
# shadow the builtin IOError.

# The rules a worker can run against the PS (--algo single has no PS).
ALGORITHMS = ("downpour", "adag", "dynsgd", "easgd", "eamsgd", "average")

__all__ = [
    "ALGORITHMS", "AlreadyInitialised", "Client", "Error", "Internal", "InvalidArgument", "Layout",
    "Mismatch", "NotInitialised", "ProtocolError", "RuleDriver", "Timeout", "Unauthorised", "Unavailable",
    "curve_available", "curve_public_key", "expected_commits", "generate_curve_key_pair", "read_curve_key_file",
    "rule_config",
]
