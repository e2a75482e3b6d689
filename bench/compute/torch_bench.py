#!/usr/bin/python3
"""PyTorch 1.13 reference for asyncps-bench-compute: the same seed CNN (or the
same Keras model file, --model FILE.json, built here as torch modules), batch
sizes and optimizers (Keras defaults: SGD lr 0.01, Adam lr 0.001 eps 1e-7), one
thread, random batches of the model's input shape; samples/s of forward +
backward + step, median of repeats.

Prints one line per (optimizer, batch):
  "torch <opt> <batch> <samples/s wall> <samples/s of process CPU time>".
"""
import argparse
import json
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


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


class SamePad(nn.Module):
    """TensorFlow's 'same' padding for a window k moving by s (extra at the end)."""

    def __init__(self, k, s, value=0.0):
        super().__init__()
        self.k, self.s, self.value = k, s, value

    def forward(self, h):
        pads = []
        for size, k, s in ((h.shape[3], self.k[1], self.s[1]), (h.shape[2], self.k[0], self.s[0])):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(h, pads, value=self.value)


def keras_model(path):
    """nn.Sequential and input shape (C, H, W) or (N,) from model.to_json()."""
    with open(path) as f:
        model = json.load(f)
    layers = model["config"] if isinstance(model["config"], list) else model["config"]["layers"]
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    mods, shape = [], None
    for layer in layers:
        cls, cfg = layer["class_name"], layer["config"]
        if shape is None:
            dims = cfg["batch_input_shape"][1:]
            shape = [dims[2], dims[0], dims[1]] if len(dims) == 3 else list(dims)
            if cls == "InputLayer":
                continue
        act = cfg.get("activation", "linear")
        if cls == "Conv2D":
            k, s = _pair(cfg["kernel_size"]), _pair(cfg["strides"])
            if cfg["padding"] == "same":
                mods.append(SamePad(k, s))
            mods.append(nn.LazyConv2d(cfg["filters"], k, s, bias=cfg.get("use_bias", True)))
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            k = _pair(cfg["pool_size"])
            s = _pair(cfg["strides"] or cfg["pool_size"])
            if cfg["padding"] == "same":
                mods.append(SamePad(k, s, float("-inf") if cls == "MaxPooling2D" else 0.0))
            mods.append(nn.MaxPool2d(k, s) if cls == "MaxPooling2D" else nn.AvgPool2d(k, s))
        elif cls == "Flatten":
            mods.append(nn.Flatten())
        elif cls == "Dense":
            mods.append(nn.LazyLinear(cfg["units"], bias=cfg.get("use_bias", True)))
        elif cls == "Dropout":
            mods.append(nn.Dropout(cfg["rate"]))
        elif cls != "Activation":
            raise SystemExit("unsupported layer " + cls)
        if act in acts:
            mods.append(acts[act]())
    net = nn.Sequential(*mods)
    net(torch.zeros(1, *shape))  # materialises the lazy layers
    return net, shape


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="16,32,128")
    ap.add_argument("--optimizer", default="sgd,adam")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--model", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for opt_name in a.optimizer.split(","):
        for b in (int(s) for s in a.batch.split(",")):
            model, shape = keras_model(a.model) if a.model else (seed_cnn(), [1, 28, 28])
            if opt_name == "sgd":
                opt = torch.optim.SGD(model.parameters(), lr=0.01)
            elif opt_name == "adam":
                opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
            else:
                raise SystemExit(f"unknown optimizer {opt_name}")
            x = torch.rand(b, *shape)
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
