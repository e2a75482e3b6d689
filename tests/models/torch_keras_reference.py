#!/usr/bin/python3
"""Reference loss and gradients of a Keras Sequential model from PyTorch, for
keras_torch_test.cpp: an implementation of the Keras layers asyncps accepts
that shares nothing with asyncps' own (TensorFlow's padding rules written out).

usage: torch_keras_reference.py MODEL.json IN.npz OUT.npz

MODEL.json is model.to_json() (read as data). IN.npz holds the weights under
"<layer name>/kernel" and "<layer name>/bias" in Keras layout, "x" (NHWC or
[batch, features]) and "y" (one-hot). OUT.npz gets "loss" (mean categorical
cross-entropy), "logits", and dLoss/dtensor under each tensor's name. Dropout
must have rate 0 (its masks are random).
"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def pad_nchw(h, k, s, value):
    top, bottom = same_pads(h.shape[2], k[0], s[0])
    left, right = same_pads(h.shape[3], k[1], s[1])
    return F.pad(h, (left, right, top, bottom), value=value)


ACT = {"linear": lambda h: h, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
       "softmax": lambda h: h}  # the softmax is in the loss


def main():
    model_path, inp, out = sys.argv[1:4]
    with open(model_path) as f:
        model = json.load(f)
    layers = model["config"]
    if isinstance(layers, dict):
        layers = layers["layers"]
    src = np.load(inp)
    dt = torch.float64
    params = {k: torch.tensor(src[k], dtype=dt).requires_grad_(True) for k in src.files if "/" in k}
    x = torch.tensor(src["x"], dtype=dt)
    y = torch.tensor(src["y"], dtype=dt)
    h = x.permute(0, 3, 1, 2) if x.dim() == 4 else x  # NHWC -> NCHW
    for layer in layers:
        cls, cfg = layer["class_name"], layer["config"]
        name = cfg.get("name")
        if cls == "InputLayer":
            continue
        if cls == "Conv2D":
            k, s = pair(cfg["kernel_size"]), pair(cfg["strides"])
            if cfg["padding"] == "same":
                h = pad_nchw(h, k, s, 0.0)
            w = params[name + "/kernel"].permute(3, 2, 0, 1)  # [kh,kw,cin,cout] -> [cout,cin,kh,kw]
            b = params.get(name + "/bias") if cfg.get("use_bias", True) else None
            h = ACT[cfg["activation"]](F.conv2d(h, w, b, stride=s))
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            k = pair(cfg["pool_size"])
            s = pair(cfg["strides"] or cfg["pool_size"])
            same = cfg["padding"] == "same"
            if cls == "MaxPooling2D":
                h = F.max_pool2d(pad_nchw(h, k, s, float("-inf")) if same else h, k, s)
            elif same:  # TensorFlow averages over the covered input elements only
                ones = torch.ones_like(h[:, :1])
                h = F.avg_pool2d(pad_nchw(h, k, s, 0.0), k, s) / F.avg_pool2d(pad_nchw(ones, k, s, 0.0), k, s)
            else:
                h = F.avg_pool2d(h, k, s)
        elif cls == "Flatten":
            h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # Keras flattens NHWC
        elif cls == "Dense":
            h = h @ params[name + "/kernel"]
            if cfg.get("use_bias", True):
                h = h + params[name + "/bias"]
            h = ACT[cfg["activation"]](h)
        elif cls == "Dropout":
            assert cfg["rate"] == 0, "dropout masks are random: use rate 0"
        elif cls == "Activation":
            h = ACT[cfg["activation"]](h)
        else:
            raise SystemExit("unsupported layer " + cls)
    loss = -(y * F.log_softmax(h, dim=1)).sum(dim=1).mean()
    loss.backward()
    result = {"loss": np.array(loss.item(), dtype=np.float64), "logits": h.detach().numpy()}
    for k, p in params.items():
        result[k] = p.grad.detach().numpy()
    np.savez(out, **result)


if __name__ == "__main__":
    main()
