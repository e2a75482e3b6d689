#!/usr/bin/python3
"""Reference loss and gradients of the seed CNN from PyTorch, for
torch_agreement_test.cpp.

usage: torch_reference.py IN.npz OUT.npz [--dtype float64|float32]

IN.npz holds the model's tensors in Keras layout (conv kernels [kh,kw,cin,cout],
dense kernels [in,out]) under their asyncps names, plus "x" [batch,28,28,1] (NHWC)
and "y" [batch,10] (one-hot). OUT.npz gets "loss" (mean categorical
cross-entropy) and, under each tensor's name, dLoss/dtensor in the same Keras
layout.
"""
import argparse

import numpy as np
import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    a = ap.parse_args()
    dt = getattr(torch, a.dtype)
    src = np.load(a.inp)
    t = {k: torch.tensor(src[k], dtype=dt) for k in src.files}
    params = {k: v.clone().requires_grad_(True) for k, v in t.items() if "/" in k}
    x = t["x"].permute(0, 3, 1, 2)  # NHWC -> NCHW
    y = t["y"]

    def conv(h, name):  # Keras [kh,kw,cin,cout] -> torch [cout,cin,kh,kw]
        w = params[name + "/kernel"].permute(3, 2, 0, 1)
        return F.conv2d(h, w, params[name + "/bias"])

    def dense(h, name):  # Keras [in,out]: h @ W + b
        return h @ params[name + "/kernel"] + params[name + "/bias"]

    h = F.relu(conv(x, "conv2d_1"))
    h = F.relu(conv(h, "conv2d_2"))
    h = F.max_pool2d(h, 2)
    h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # Keras flattens NHWC
    h = F.relu(dense(h, "dense_1"))
    logits = dense(h, "dense_2")
    loss = -(y * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss.backward()
    out = {"loss": np.array(loss.item(), dtype=np.float64)}
    for k, p in params.items():
        out[k] = p.grad.detach().to(torch.float64).numpy()
    np.savez(a.out, **out)


if __name__ == "__main__":
    main()
