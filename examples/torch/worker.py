#!/usr/bin/python3
"""One PyTorch worker of the seed experiment: trains asyncps.torch.seed_cnn()
on its share of Fashion-MNIST through the asyncps parameter server (or alone,
with --algo single), the way asyncps-worker does: same partition, same initial
weights, Adam with Keras' defaults, the rule's exchanges around each step.

Started by launch.py (one process per worker); run alone it needs --servers.
Writes its report (rows, batches, samples, times, commits) to --report-json.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

import asyncps
import asyncps.mnist
import asyncps.torch


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", default="", help="shard endpoints in shard order, comma-separated")
    ap.add_argument("--worker-index", type=int, default=0)
    ap.add_argument("--num-workers", type=int, default=1)
    ap.add_argument("--algo", default="adag", help="downpour, adag, dynsgd, easgd, eamsgd, or single (no PS)")
    ap.add_argument("--window", type=int, default=0, help="communication window (0: the rule's default)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.001, help="Adam's learning rate")
    ap.add_argument("--seed", type=int, default=1, help="initial weights (as asyncps-worker's) and shuffling")
    ap.add_argument("--data", default=asyncps.mnist.DEFAULT_DIR)
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training rows (0: all)")
    ap.add_argument("--divisor", type=float, default=255.0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the C++ workers use 1 BLAS thread)")
    ap.add_argument("--report-json", default="")
    ap.add_argument("--save-weights", default="", help="write the final local weights to this .npz")
    ap.add_argument("--pull-encoding", default="f32")
    ap.add_argument("--commit-encoding", default="f32")
    return ap.parse_args(argv)


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    # NCHW images [rows, 1, 28, 28]: the layout seed_cnn() takes by default
    x, y = asyncps.mnist.load(a.data, "train", a.train_limit, a.worker_index, a.num_workers, a.divisor)
    if len(y) == 0:
        sys.exit(f"worker {a.worker_index} has no training rows: use fewer workers or more data")
    model = asyncps.torch.seed_cnn(seed=a.seed)
    # Keras' Adam defaults (the C++ worker's): lr 0.001, betas (0.9, 0.999), epsilon 1e-7.
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-7)
    with_ps = a.algo != "single"
    if with_ps:
        if not a.servers:
            sys.exit("--servers is required (one endpoint per shard) unless --algo single")
        opt = asyncps.torch.DistributedOptimizer(opt, model.named_parameters(), servers=a.servers.split(","),
                                                 worker_id=a.worker_index, algorithm=a.algo,
                                                 window=a.window or None, pull_encoding=a.pull_encoding,
                                                 commit_encoding=a.commit_encoding)
        opt.init_or_pull()
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=a.batch_size,
        shuffle=True, generator=torch.Generator().manual_seed(a.seed * 1000003 + a.worker_index))

    report = {"worker_index": a.worker_index, "num_workers": a.num_workers, "algo": a.algo, "rows": len(y),
              "batches": 0, "samples": 0, "first_batch_unix": time.time()}
    cpu_start = time.process_time()  # every thread of this process: training, the client, ZeroMQ
    for epoch in range(1, a.epochs + 1):
        loss_sum, batches = 0.0, 0
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            batches += 1
            report["samples"] += len(yb)
        report["batches"] += batches
        report["last_epoch_loss"] = loss_sum / batches
        rate = report["samples"] / max(time.time() - report["first_batch_unix"], 1e-9)
        print(f"worker {a.worker_index}: epoch {epoch}/{a.epochs} loss {loss_sum / batches:.4f} "
              f"{rate:.0f} samples/s", flush=True)
    if with_ps:
        report["commits"] = opt.finish()
        report["expected_commits"] = opt.expected_commits()
    else:
        report["commits"] = report["expected_commits"] = 0
    report["end_unix"] = time.time()
    report["cpu_seconds"] = time.process_time() - cpu_start
    report["train_seconds"] = report["end_unix"] - report["first_batch_unix"]
    report["samples_per_second"] = report["samples"] / max(report["train_seconds"], 1e-9)
    if a.save_weights:
        asyncps.torch.save_weights(a.save_weights, model.named_parameters())
    if a.report_json:
        with open(a.report_json, "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main()
