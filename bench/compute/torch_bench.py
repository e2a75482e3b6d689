#!/usr/bin/python3
"""PyTorch 1.13 reference for asyncps-bench-compute: the same seed CNN (or the
same Keras model file, --model FILE.json, built here as torch modules), batch
sizes and optimizers (Keras defaults: SGD lr 0.01, Adam lr 0.001 eps 1e-7), one
thread; samples/s of forward + backward + step, median of repeats.

Every thread pool in the process is pinned to --threads: PyTorch's own
(torch.set_num_threads) and, through threadpoolctl, the BLAS and OpenMP
libraries it loaded. Debian's torch calls OpenBLAS (pthreads), which starts
one thread per core whatever torch.set_num_threads says: unpinned, PyTorch's
matrix products use both cores of a 2-core machine and its idle BLAS threads
spin, so its CPU time counts more than one core (--blas-threads N leaves
OpenBLAS at N threads, to measure exactly that).

Measured as a PyTorch user gets it: a plain training loop over consecutive
batches of the real Fashion-MNIST training set (--data; random batches of the
model's input shape only for a --model whose input is not 28x28x1), with
PyTorch's defaults (opt.zero_grad() keeps the gradient tensors: 1.13's default
set_to_none=False). set_to_none=True, as this script used before, frees the
4.2 MB of gradients every step and allocates them afresh in backward: ~10%
slower here (bench/results/2026-12-01/compute.md).

Prints one line per (optimizer, batch):
  "torch <opt> <batch> <samples/s wall> <samples/s of process CPU time>".
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:
    raise SystemExit("torch_bench.py needs threadpoolctl to pin PyTorch's BLAS threads: "
                     "apt-get install python3-threadpoolctl")


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


class Reshape(nn.Module):
    """Keras' Reshape to [steps, features] (one-channel images: NCHW is NHWC)."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def forward(self, h):
        return h.reshape(h.shape[0], *self.target)


class Recurrent(nn.Module):
    """Keras' SimpleRNN/LSTM/GRU over [batch, steps, features]: torch's own
    module, the last step's output unless return_sequences."""

    def __init__(self, cls, features, cfg):
        super().__init__()
        kind = {"SimpleRNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[cls]
        self.rnn = kind(features, cfg["units"], batch_first=True, bias=cfg.get("use_bias", True))
        self.sequences = cfg.get("return_sequences", False)

    def forward(self, h):
        out, _ = self.rnn(h)
        return out if self.sequences else out[:, -1]


def layer_modules(cls, cfg, state):
    """The torch modules of one Keras layer; state: "features" (a sequence's
    last dimension) and "image" (whether the tensor is NCHW)."""
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    act = cfg.get("activation", "linear")
    mods = []
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
    elif cls == "BatchNormalization":
        # Keras' momentum weighs the old statistic, PyTorch's the new one.
        bn = nn.LazyBatchNorm2d if state["image"] else nn.LazyBatchNorm1d
        mods.append(bn(eps=cfg.get("epsilon", 1e-3), momentum=1 - cfg.get("momentum", 0.99)))
    elif cls == "GlobalAveragePooling2D":
        mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        state["image"] = False
    elif cls == "Flatten":
        mods.append(nn.Flatten())
        state["image"] = False
    elif cls == "Reshape":
        mods.append(Reshape(cfg["target_shape"]))
        state["features"] = cfg["target_shape"][-1]
        state["image"] = len(cfg["target_shape"]) == 3
    elif cls in ("SimpleRNN", "LSTM", "GRU"):
        mods.append(Recurrent(cls, state["features"], cfg))
        state["features"] = cfg["units"]
        act = "linear"  # the cell's own
    elif cls == "Dense":
        mods.append(nn.LazyLinear(cfg["units"], bias=cfg.get("use_bias", True)))
    elif cls == "Dropout":
        mods.append(nn.Dropout(cfg["rate"]))
    elif cls != "Activation":
        raise SystemExit("unsupported layer " + cls)
    if act in acts:
        mods.append(acts[act]())
    return mods


class Functional(nn.Module):
    """A Keras Functional model (one input, one output; Keras 2's
    inbound_nodes), the layers run in file order; Add as the only merge."""

    def __init__(self, layers, shape):
        super().__init__()
        self.order, self.inbound, state = [], {}, {"image": len(shape) == 3, "features": shape[-1]}
        self.mods = nn.ModuleDict()
        for layer in layers:
            cls, cfg, name = layer["class_name"], layer["config"], layer["name"]
            if cls == "InputLayer":
                self.input_name = name
                continue
            self.inbound[name] = [node[0] for node in layer["inbound_nodes"][0]]
            if cls != "Add":
                self.mods[name] = nn.Sequential(*layer_modules(cls, cfg, state))
            self.order.append(name)

    def forward(self, x):
        out = {self.input_name: x}
        for name in self.order:
            ins = [out[i] for i in self.inbound[name]]
            out[name] = sum(ins) if name not in self.mods else self.mods[name](ins[0])
        return out[self.order[-1]]


def keras_model(path):
    """The model and input shape (C, H, W) or (N,) from model.to_json()."""
    with open(path) as f:
        model = json.load(f)
    layers = model["config"] if isinstance(model["config"], list) else model["config"]["layers"]
    dims = layers[0]["config"]["batch_input_shape"][1:]
    shape = [dims[2], dims[0], dims[1]] if len(dims) == 3 else list(dims)
    if model["class_name"] in ("Functional", "Model"):
        net = Functional(layers, shape)
    else:
        state, mods = {"image": len(shape) == 3, "features": shape[-1]}, []
        for layer in layers:
            if layer["class_name"] != "InputLayer":
                mods += layer_modules(layer["class_name"], layer["config"], state)
        net = nn.Sequential(*mods)
    net(torch.zeros(2, *shape))  # materialises the lazy layers (BatchNorm needs 2 samples)
    return net, shape


def idx(path, offset):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def fashion_mnist(data_dir):
    """The training images (N, 1, 28, 28) / 255 and labels, as torch tensors."""
    def find(stem):
        for name in (stem + ".gz", stem):
            if os.path.exists(os.path.join(data_dir, name)):
                return os.path.join(data_dir, name)
        raise SystemExit(f"{stem}[.gz] not in {data_dir} (apt-get install dataset-fashion-mnist, or --data)")
    x = idx(find("train-images-idx3-ubyte"), 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0
    y = idx(find("train-labels-idx1-ubyte"), 8).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def batches(data, shape, b):
    """Endless consecutive (x, y) batches of the data set, or one random batch."""
    if data is None or list(shape) != [1, 28, 28]:
        x, y = torch.rand(b, *shape), torch.randint(0, 10, (b,))
        while True:
            yield x, y
    x, y = data
    while True:
        for i in range(0, len(y) - b + 1, b):
            yield x[i:i + b], y[i:i + b]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="16,32,128")
    ap.add_argument("--optimizer", default="sgd,adam")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blas-threads", type=int, default=0,
                    help="threads of the BLAS and OpenMP libraries (default: --threads)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--model", default="")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--flush-denormal", action="store_true",
                    help="torch.set_flush_denormal(True), as asyncps and TensorFlow do (PyTorch's default: off)")
    a = ap.parse_args()
    for flag, value in (("--threads", a.threads), ("--blas-threads", a.blas_threads)):
        if value < 0 or (flag == "--threads" and value == 0):
            raise SystemExit(f"{flag} must be a positive number of threads, not {value}")
    data = fashion_mnist(a.data)
    torch.set_num_threads(a.threads)
    if a.flush_denormal and not torch.set_flush_denormal(True):
        raise SystemExit("--flush-denormal: this CPU has no flush-to-zero mode (torch.set_flush_denormal)")
    threadpool_limits(limits=a.blas_threads or a.threads)
    pools = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info())
    print(f"torch_bench.py threads: torch {torch.get_num_threads()}, {pools}", file=sys.stderr, flush=True)
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
            feed = batches(data, shape, b)

            def step():
                x, y = next(feed)
                opt.zero_grad()
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
