"""MNIST-format IDX files (MNIST, Fashion-MNIST) as numpy arrays, split among
workers exactly as asyncps-worker splits them (numpy only).

    images, labels = asyncps.mnist.load(split="train", worker=1, num_workers=3)
    # images: float32 [n, 1, 28, 28] (NCHW, pixels / divisor; data_format="channels_last":
    # [n, 28, 28, 1], NHWC); labels: int64 [n]
"""
import gzip
import os

import numpy as np

from . import _asyncps

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"

_PREFIX = {"train": "train", "test": "t10k"}


def _find(directory, base):
    for name in (base, base + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise _asyncps.IOError(f"data directory '{directory}' lacks {base}[.gz]: point it at a directory holding the "
                           "MNIST-format files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...), or "
                           "install Debian's dataset-fashion-mnist")


def read_idx(path, ndim):
    """An IDX file of unsigned bytes with `ndim` dimensions as a uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 + 4 * ndim or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] != ndim:
        raise _asyncps.IOError(f"{path}: not an IDX file of {ndim}-dimensional unsigned bytes")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise _asyncps.IOError(f"{path}: header says {dims} but the file holds {body.size} values (truncated?)")
    return body.reshape(dims)


def load(directory=DEFAULT_DIR, split="train", limit=0, worker=0, num_workers=1, divisor=255.0, num_classes=10,
         data_format="channels_first"):
    """The worker's contiguous block of the first `limit` rows (0: all) of
    `split` ("train" or "test"): rows [worker*n/num_workers,
    (worker+1)*n/num_workers), as asyncps-worker takes them. Returns
    (images float32, labels int64 [rows]); the images are [rows, 1, height,
    width] (NCHW, PyTorch's layout) with data_format="channels_first", the
    default, or [rows, height, width, 1] (NHWC, Keras') with "channels_last"."""
    if split not in _PREFIX:
        raise _asyncps.InvalidArgument(f"split must be 'train' or 'test', not {split!r}")
    if data_format not in ("channels_first", "channels_last"):
        raise _asyncps.InvalidArgument(f"data_format must be 'channels_first' (NCHW) or 'channels_last' (NHWC), "
                                       f"not {data_format!r}")
    if num_workers < 1 or not 0 <= worker < num_workers:
        raise _asyncps.InvalidArgument(f"worker {worker} of {num_workers} workers; need num_workers >= 1 and "
                                       "0 <= worker < num_workers")
    images = read_idx(_find(directory, _PREFIX[split] + "-images-idx3-ubyte"), 3)
    labels = read_idx(_find(directory, _PREFIX[split] + "-labels-idx1-ubyte"), 1)
    if images.shape[0] != labels.shape[0]:
        raise _asyncps.IOError(f"{directory}: {images.shape[0]} images but {labels.shape[0]} labels in {split}")
    n = images.shape[0] if limit == 0 else min(limit, images.shape[0])
    begin, end = worker * n // num_workers, (worker + 1) * n // num_workers
    x = images[begin:end].astype(np.float32) / np.float32(divisor)
    x = x[:, np.newaxis] if data_format == "channels_first" else x[..., np.newaxis]
    y = labels[begin:end].astype(np.int64)
    if y.size and y.max() >= num_classes:
        raise _asyncps.IOError(f"{directory}: label {int(y.max())} in {split} is not below {num_classes} classes")
    return np.ascontiguousarray(x), y
