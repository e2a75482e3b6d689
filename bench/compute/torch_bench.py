#!/usr/bin/python3
"""PyTorch 1.13 reference for asyncps-bench-compute: the same seed CNN, batch sizes
and optimizers (Keras defaults: SGD lr 0.01, Adam lr 0.001 eps 1e-7), one thread,
random 28x28x1 batches; samples/s of forward + backward + step, median of repeats.

Prints one line per (optimizer, batch):
  "torch <opt> <batch> <samples/s wall> <samples/s of process CPU time>".
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def seed_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(4608, 225), nn.ReLU(),
        nn.Linear(225, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="16,32,128")
    ap.add_argument("--optimizer", default="sgd,adam")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for opt_name in a.optimizer.split(","):
        for b in (int(s) for s in a.batch.split(",")):
            model = seed_cnn()
            if opt_name == "sgd":
                opt = torch.optim.SGD(model.parameters(), lr=0.01)
            elif opt_name == "adam":
                opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
            else:
                raise SystemExit(f"unknown optimizer {opt_name}")
            x = torch.rand(b, 1, 28, 28)
            y = torch.randint(0, 10, (b,))

            def step():
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                opt.step()

            for _ in range(3):
                step()
            rates, cpu_rates = [], []
            for _ in range(a.repeats):
                steps = 0
                c0 = time.process_time()
                t0 = time.perf_counter()
                while True:
                    step()
                    steps += 1
                    el = time.perf_counter() - t0
                    if el >= a.min_seconds:
                        break
                rates.append(steps * b / el)
                cpu_rates.append(steps * b / (time.process_time() - c0))
            rates.sort()
            cpu_rates.sort()
            print(f"torch {opt_name} {b} {rates[len(rates) // 2]:.1f} "
                  f"{cpu_rates[len(cpu_rates) // 2]:.1f}", flush=True)


if __name__ == "__main__":
    main()
