"""A user's Python program, and nothing else: one asyncps.Client (the installed
package), init, then commit_and_pull of FLOATS floats in a loop against one
asyncps-server shard; user_client.cpp's twin. Usage:
    python3 user_client.py ENDPOINT FLOATS f32|bf16 SECONDS [WARMUP [REPLY_CHUNK_BYTES]]
Prints timing.h's line; exit 2 on bad usage, an asyncps.Error on failure.
"""
import resource
import sys
import time

import numpy as np

import asyncps


def usage_error(message):
    sys.exit(f"{message}\nusage: user_client.py ENDPOINT FLOATS f32|bf16 SECONDS [WARMUP [REPLY_CHUNK_BYTES]]")


def number(text, what, kind, allow_zero=False):
    try:
        value = kind(text)
    except ValueError:
        value = -1
    if not (value >= 0 if allow_zero else value > 0):
        usage_error(f"{what} must be a {'non-negative' if allow_zero else 'positive'} number, got '{text}'")
    return value


def main(argv):
    if not 5 <= len(argv) <= 7:
        usage_error("wrong number of arguments")
    endpoint, floats, encoding = argv[1], number(argv[2], "FLOATS", int), argv[3]
    if encoding not in ("f32", "bf16"):
        usage_error(f"the encoding must be f32 or bf16, got '{encoding}'")
    seconds = number(argv[4], "SECONDS", float)
    warmup = number(argv[5], "WARMUP", int) if len(argv) > 5 else 20
    options = {"pull_encoding": encoding, "commit_encoding": encoding}
    if len(argv) > 6:
        options["reply_chunk_bytes"] = number(argv[6], "REPLY_CHUNK_BYTES", int, allow_zero=True)
    client = asyncps.Client([endpoint], [("w", (floats,))], **options)
    weights = np.full(floats, 0.5, np.float32)
    commit = np.full(floats, 1e-6, np.float32)
    client.init(weights)
    for _ in range(warmup):
        client.commit_and_pull(commit, weights)
    before, start, n = resource.getrusage(resource.RUSAGE_SELF), time.monotonic(), 0
    while True:
        client.commit_and_pull(commit, weights)
        n += 1
        if time.monotonic() - start >= seconds:
            break
    wall, after = time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"round_trips_per_s {n / wall:.1f} minflt_per_rt {(after.ru_minflt - before.ru_minflt) / n:.2f} "
          f"cpu_us_per_rt {cpu * 1e6 / n:.0f}")
    client.leave()  # the next run may take this worker id at once
    client.close()


if __name__ == "__main__":
    main(sys.argv)
