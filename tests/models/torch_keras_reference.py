#!/usr/bin/python3
"""Reference loss and gradients of a Keras Sequential model from PyTorch, for
keras_torch_test.cpp: an implementation of the Keras layers asyncps accepts
that shares nothing with asyncps' own (TensorFlow's padding rules written out).

usage: torch_keras_reference.py MODEL.json IN.npz OUT.npz

MODEL.json is model.to_json() (read as data). IN.npz holds the weights under
"<layer name>/kernel" and "<layer name>/bias" in Keras layout, "x" (NHWC or
[batch, features]) and "y" (one-hot). OUT.npz gets "loss" (mean categorical
cross-entropy, training mode), "logits" (inference mode: BatchNormalization on
its moving statistics), and dLoss/dtensor under each tensor's name (0 for the
moving statistics), and "updated:<name>/moving_mean" and
"updated:<name>/moving_variance": the moving statistics after the training
pass. Dropout must have rate 0 (its masks are random).
"""
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def single(v):
    return v[0] if isinstance(v, list) else v


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def pad_nchw(h, k, s, value):
    top, bottom = same_pads(h.shape[2], k[0], s[0])
    left, right = same_pads(h.shape[3], k[1], s[1])
    return F.pad(h, (left, right, top, bottom), value=value)


SELU_SCALE, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717


def relu(h, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras' ReLU layer, written out."""
    out = torch.where(h >= threshold, h, negative_slope * (h - threshold))
    return out if max_value is None else torch.clamp(out, max=max_value)


ACT = {"linear": lambda h: h, "relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
       "softmax": lambda h: h,  # the softmax is in the loss
       "elu": lambda h: torch.where(h > 0, h, torch.expm1(h)),
       "selu": lambda h: SELU_SCALE * torch.where(h > 0, h, SELU_ALPHA * torch.expm1(h)),
       "gelu": lambda h: 0.5 * h * (1 + torch.erf(h / 2 ** 0.5)),
       "swish": lambda h: h * torch.sigmoid(h), "silu": lambda h: h * torch.sigmoid(h),
       "softplus": lambda h: torch.log1p(torch.exp(-h.abs())) + h.clamp(min=0),
       "softsign": lambda h: h / (1 + h.abs()),
       "hard_sigmoid": lambda h: torch.clamp(0.2 * h + 0.5, 0, 1),  # Keras 2
       "leaky_relu": lambda h: relu(h, 0.2),
       "exponential": torch.exp}


def to_nhwc(h):
    return h.permute(0, 2, 3, 1) if h.dim() == 4 else h


def from_nhwc(h):
    return h.permute(0, 3, 1, 2) if h.dim() == 4 else h


def batch_norm(h, cfg, name, params, stats, training):
    """Keras' BatchNormalization over the last axis; the biased batch variance."""
    x = to_nhwc(h)
    axes = tuple(range(x.dim() - 1))
    if training:
        mean = x.mean(dim=axes)
        var = ((x - mean) ** 2).mean(dim=axes)
        m = cfg.get("momentum", 0.99)
        stats[name + "/moving_mean"] = params[name + "/moving_mean"] * m + mean.detach() * (1 - m)
        stats[name + "/moving_variance"] = params[name + "/moving_variance"] * m + var.detach() * (1 - m)
    else:
        mean, var = params[name + "/moving_mean"], params[name + "/moving_variance"]
    y = (x - mean) / torch.sqrt(var + cfg.get("epsilon", 1e-3))
    if cfg.get("scale", True):
        y = y * params[name + "/gamma"]
    if cfg.get("center", True):
        y = y + params[name + "/beta"]
    return from_nhwc(y)


def recurrent(h, cls, cfg, name, params):
    """Keras' SimpleRNN, LSTM and GRU written out step by step (autograd for the
    backward pass); gates in Keras' order: LSTM i, f, c, o; GRU z, r, h."""
    units = cfg["units"]
    act = ACT[cfg.get("activation", "tanh")]
    ract = ACT[cfg.get("recurrent_activation", "sigmoid")]
    kernel, rec = params[name + "/kernel"], params[name + "/recurrent_kernel"]
    bias = params[name + "/bias"] if cfg.get("use_bias", True) else None
    reset_after = cfg.get("reset_after", True)
    state = torch.zeros(h.shape[0], units, dtype=h.dtype)
    cell = torch.zeros_like(state)
    outputs = []
    for t in range(h.shape[1]):
        xw = h[:, t] @ kernel
        if bias is not None:
            xw = xw + (bias[0] if cls == "GRU" and reset_after else bias)
        if cls == "SimpleRNN":
            state = act(xw + state @ rec)
        elif cls == "LSTM":
            i, f, g, o = (xw + state @ rec).split(units, dim=1)
            cell = ract(f) * cell + ract(i) * act(g)
            state = ract(o) * act(cell)
        else:
            xz, xr, xh = xw.split(units, dim=1)
            if reset_after:
                inner = state @ rec + (bias[1] if bias is not None else 0)
                hz, hr, hh = inner.split(units, dim=1)
                z, r = ract(xz + hz), ract(xr + hr)
                candidate = act(xh + r * hh)
            else:
                z = ract(xz + state @ rec[:, :units])
                r = ract(xr + state @ rec[:, units:2 * units])
                candidate = act(xh + (r * state) @ rec[:, 2 * units:])
            state = z * state + (1 - z) * candidate
        outputs.append(state)
    return torch.stack(outputs, dim=1) if cfg.get("return_sequences", False) else state


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
    stats = {}
    logits = forward(layers, params, x, stats, training=False).detach()
    h = forward(layers, params, x, stats, training=True)
    loss = -(y * F.log_softmax(h, dim=1)).sum(dim=1).mean()
    loss.backward()
    result = {"loss": np.array(loss.item(), dtype=np.float64), "logits": logits.numpy()}
    for k, p in params.items():
        result[k] = p.grad.detach().numpy() if p.grad is not None else np.zeros(p.shape)
    for k, v in stats.items():
        result["updated:" + k] = v.detach().numpy()
    np.savez(out, **result)


def forward(layers, params, x, stats, training):
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
        elif cls == "BatchNormalization":
            h = batch_norm(h, cfg, name, params, stats, training)
        elif cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
            h = h.mean(dim=(2, 3)) if cls == "GlobalAveragePooling2D" else h.amax(dim=(2, 3))
            if cfg.get("keepdims", False):
                h = h[:, :, None, None]
        elif cls == "ZeroPadding2D":
            p = cfg["padding"]
            p = [p, p] if isinstance(p, int) else p
            (top, bottom), (left, right) = p if isinstance(p[0], list) else ((p[0], p[0]), (p[1], p[1]))
            h = F.pad(h, (left, right, top, bottom))
        elif cls == "Reshape":
            h = from_nhwc(to_nhwc(h).reshape([h.shape[0]] + list(cfg["target_shape"])))
        elif cls == "ReLU":
            h = relu(h, cfg.get("negative_slope", 0.0), cfg.get("max_value"), cfg.get("threshold", 0.0))
        elif cls == "LeakyReLU":
            h = relu(h, cfg.get("negative_slope", cfg.get("alpha", 0.3)))
        elif cls == "ELU":
            a = cfg.get("alpha", 1.0)
            h = torch.where(h > 0, h, a * torch.expm1(h))
        elif cls == "Embedding":
            h = params[name + "/embeddings"][h.long()]
        elif cls == "Conv1D":  # sequences are [batch, steps, features]; torch's conv1d wants [batch, features, steps]
            k, s = single(cfg["kernel_size"]), single(cfg["strides"])
            t = h.transpose(1, 2)
            if cfg["padding"] == "same":
                t = F.pad(t, same_pads(t.shape[2], k, s))
            w = params[name + "/kernel"].permute(2, 1, 0)  # [k,cin,cout] -> [cout,cin,k]
            b = params.get(name + "/bias") if cfg.get("use_bias", True) else None
            h = ACT[cfg["activation"]](F.conv1d(t, w, b, stride=s)).transpose(1, 2)
        elif cls in ("MaxPooling1D", "AveragePooling1D"):
            k = single(cfg["pool_size"])
            s = single(cfg["strides"] or cfg["pool_size"])
            t = h.transpose(1, 2)
            pads = same_pads(t.shape[2], k, s) if cfg["padding"] == "same" else (0, 0)
            if cls == "MaxPooling1D":
                t = F.max_pool1d(F.pad(t, pads, value=float("-inf")), k, s)
            else:  # TensorFlow averages over the covered steps only
                ones = torch.ones_like(t[:, :1])
                t = F.avg_pool1d(F.pad(t, pads), k, s) / F.avg_pool1d(F.pad(ones, pads), k, s)
            h = t.transpose(1, 2)
        elif cls in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
            h = h.mean(dim=1) if cls == "GlobalAveragePooling1D" else h.amax(dim=1)
        elif cls in ("SimpleRNN", "LSTM", "GRU"):
            h = recurrent(h, cls, cfg, name, params)
        elif cls == "Softmax":
            pass  # in the loss
        else:
            raise SystemExit("unsupported layer " + cls)
    return h


if __name__ == "__main__":
    main()
