#!/usr/bin/python3
"""Writes a Keras HDF5 file with h5py in the layout Keras itself writes, for the
HDF5 tests (Keras is not installed here).

usage: keras_h5_fixture.py MODEL.json WEIGHTS.npz OUT.h5 [--weights-only] [--drop NAME] [--reshape NAME]

model.save('m.h5'): attributes model_config (the JSON), keras_version,
backend; group model_weights with attribute layer_names (every layer, also
those without weights), one group per layer with attribute weight_names
("<layer>/kernel:0", "<layer>/bias:0"; BatchNormalization's gamma, beta,
moving_mean, moving_variance) and the datasets at those paths inside
it. model.save_weights('w.h5') (--weights-only): the same layer groups and
attributes at the file's root, no model_config. Keras <= 2.2 files (the
model's "config" is a list) store strings as fixed-length bytes, later ones
model_config as a variable-length str, as the two h5py code paths did.

WEIGHTS.npz holds the weights in get_weights() order (arr_0, arr_1, ...).
--drop NAME leaves the dataset of that weight name out (a damaged file);
--reshape NAME stores it flattened (a file of another model).
--hostile KIND (with --secret PATH) stores the first weight the way an
attacker would, to test that the reader refuses it: external-storage (its
data read from PATH), external-link (a link to a dataset in PATH.h5),
soft-link, virtual (mapped from PATH.h5), huge (2^20 x 2^20 floats claimed,
nothing stored), unwritten (never written: only the fill value), lzf (a
filter libhdf5 itself does not have).
"""
import argparse
import json

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("weights")
    ap.add_argument("out")
    ap.add_argument("--weights-only", action="store_true")
    ap.add_argument("--drop", default="")
    ap.add_argument("--reshape", default="")
    ap.add_argument("--hostile", default="")
    ap.add_argument("--secret", default="")
    a = ap.parse_args()
    with open(a.model) as f:
        text = f.read()
    model = json.loads(text)
    legacy = isinstance(model["config"], list)
    layers = model["config"] if legacy else model["config"]["layers"]
    npz = np.load(a.weights)
    arrays = [npz[k] for k in npz.files]
    with h5py.File(a.out, "w") as f:
        if a.weights_only:
            root = f
        else:
            f.attrs["model_config"] = text.encode("utf8") if legacy else text
            root = f.create_group("model_weights")
        for target in {f, root}:
            target.attrs["keras_version"] = (model.get("keras_version", "2.2.4")).encode("utf8")
            target.attrs["backend"] = b"tensorflow"
        names = []
        k = 0
        for layer in layers:
            cls, cfg = layer["class_name"], layer["config"]
            if cls == "InputLayer":
                continue
            name = cfg["name"]
            names.append(name.encode("utf8"))
            g = root.create_group(name)
            weight_names = []
            if cls in ("Conv2D", "Dense"):
                weight_names.append(name + "/kernel:0")
                if cfg.get("use_bias", True):
                    weight_names.append(name + "/bias:0")
            elif cls == "BatchNormalization":  # Keras' order: trainable, then the moving statistics
                for w, present in (("gamma", cfg.get("scale", True)), ("beta", cfg.get("center", True)),
                                   ("moving_mean", True), ("moving_variance", True)):
                    if present:
                        weight_names.append(name + "/" + w + ":0")
            g.attrs["weight_names"] = np.array([w.encode("utf8") for w in weight_names], dtype="S")
            for w in weight_names:
                value = arrays[k].astype(np.float32)
                k += 1
                if w == a.drop:
                    continue
                if w == a.reshape:
                    value = value.reshape(-1)
                if a.hostile and k == 1:
                    hostile(g, w, value, a.hostile, a.secret)
                    continue
                g.create_dataset(w, data=value)
        root.attrs["layer_names"] = np.array(names, dtype="S")
        assert k == len(arrays), "WEIGHTS.npz does not match the model"


def hostile(g, name, value, kind, secret):
    if kind == "external-storage":
        g.create_dataset(name, shape=value.shape, dtype="f4", external=[(secret, 0, h5py.h5f.UNLIMITED)])
    elif kind in ("external-link", "virtual"):
        with h5py.File(secret + ".h5", "w") as other:
            other.create_dataset("data", data=value)
        if kind == "external-link":
            g[name] = h5py.ExternalLink(secret + ".h5", "/data")
        else:
            layout = h5py.VirtualLayout(shape=value.shape, dtype="f4")
            layout[...] = h5py.VirtualSource(secret + ".h5", "data", shape=value.shape)
            g.create_virtual_dataset(name, layout)
    elif kind == "soft-link":
        g.file.create_dataset("elsewhere", data=value)
        g[name] = h5py.SoftLink("/elsewhere")
    elif kind == "huge":
        g.create_dataset(name, shape=(2**20, 2**20), dtype="f4")
    elif kind == "unwritten":
        g.create_dataset(name, shape=value.shape, dtype="f4")
    elif kind == "lzf":
        g.create_dataset(name, data=value, compression="lzf")
    else:
        raise SystemExit("unknown --hostile " + kind)


if __name__ == "__main__":
    main()
