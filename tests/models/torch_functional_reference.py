#!/usr/bin/python3
"""Reference loss, logits and gradients of a Keras Functional model from
PyTorch, for keras_functional_test.cpp: each layer as torch_keras_reference.py
computes it, the merges (Add, Subtract, Multiply, Average, Maximum,
Concatenate on the last axis) written out here.

usage: torch_functional_reference.py MODEL.json IN.npz OUT.npz

IN.npz and OUT.npz as for torch_keras_reference.py (Keras 2's inbound_nodes).
"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

from torch_keras_reference import forward, to_nhwc

MERGES = {
    "Add": lambda xs: sum(xs[1:], xs[0]),
    "Subtract": lambda xs: xs[0] - xs[1],
    "Multiply": lambda xs: torch.stack(xs).prod(dim=0),
    "Average": lambda xs: torch.stack(xs).mean(dim=0),
    "Maximum": lambda xs: torch.stack(xs).amax(dim=0),
    "Concatenate": lambda xs: torch.cat(xs, dim=-1),
}


def run(config, params, x, stats, training):
    """Every tensor kept NHWC (or [batch, features]) between layers."""
    values = {}
    for layer in config["layers"]:
        cls, name = layer["class_name"], layer["config"]["name"]
        if cls == "InputLayer":
            values[name] = x
            continue
        inputs = [values[ref[0]] for ref in layer["inbound_nodes"][0]]
        if cls in MERGES:
            values[name] = MERGES[cls](inputs)
        else:
            values[name] = to_nhwc(forward([layer], params, inputs[0], stats, training))
    return values[config["output_layers"][0][0]]


def main():
    model_path, inp, out = sys.argv[1:4]
    with open(model_path) as f:
        config = json.load(f)["config"]
    src = np.load(inp)
    dt = torch.float64
    params = {k: torch.tensor(src[k], dtype=dt).requires_grad_(True) for k in src.files if "/" in k}
    x = torch.tensor(src["x"], dtype=dt)
    y = torch.tensor(src["y"], dtype=dt)
    stats = {}
    logits = run(config, params, x, stats, training=False).detach()
    h = run(config, params, x, stats, training=True)
    loss = -(y * F.log_softmax(h, dim=1)).sum(dim=1).mean()
    loss.backward()
    result = {"loss": np.array(loss.item(), dtype=np.float64), "logits": logits.numpy()}
    for k, p in params.items():
        result[k] = p.grad.detach().numpy() if p.grad is not None else np.zeros(p.shape)
    for k, v in stats.items():
        result["updated:" + k] = v.detach().numpy()
    np.savez(out, **result)


if __name__ == "__main__":
    main()
