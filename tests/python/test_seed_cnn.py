"""asyncps.torch.seed_cnn(): the C++ worker's tensors (names, order, shapes,
Keras layout), its initial weights bit for bit, and its .npz files both ways."""
import subprocess
import zipfile

import numpy as np
import pytest
import torch

import asyncps
import asyncps.mnist
import asyncps.torch
from conftest import binary, need_data

CPP_LAYOUT = [("conv2d_1/kernel", (3, 3, 1, 32)), ("conv2d_1/bias", (32,)),
              ("conv2d_2/kernel", (3, 3, 32, 32)), ("conv2d_2/bias", (32,)),
              ("dense_1/kernel", (4608, 225)), ("dense_1/bias", (225,)),
              ("dense_2/kernel", (225, 10)), ("dense_2/bias", (10,))]


def test_the_layout_is_the_cpp_workers():
    model = asyncps.torch.seed_cnn()
    assert model.layout.tensors == CPP_LAYOUT
    assert model.layout.total_size == 1048853
    # The flat buffer's slices are the parameters.
    assert model.flat.numel() == 1048853
    offset = 0
    for (_, p), i in zip(model.named_parameters(), range(8)):
        assert p.data_ptr() == model.flat.data_ptr() + 4 * model.layout.offset(i)
        offset += p.numel()
    model.flat[0] = 42.0
    assert model.conv2d_1.kernel[0, 0, 0, 0].item() == 42.0


def test_forward_is_keras_conv_and_dense_in_keras_layout():
    # A reference in PyTorch's own layout (OIHW conv, out x in linear) on the
    # same weights, to pin down the permutations and the NHWC flatten.
    model = asyncps.torch.seed_cnn(seed=3)
    x = torch.rand(2, 1, 28, 28)  # NCHW, the default
    conv1 = torch.nn.Conv2d(1, 32, 3)
    conv2 = torch.nn.Conv2d(32, 32, 3)
    with torch.no_grad():
        conv1.weight.copy_(model.conv2d_1.kernel.permute(3, 2, 0, 1))
        conv2.weight.copy_(model.conv2d_2.kernel.permute(3, 2, 0, 1))
        conv1.bias.uniform_()
        model.conv2d_1.bias.copy_(conv1.bias)
        conv2.bias.copy_(model.conv2d_2.bias)
        h = torch.relu(conv2(torch.relu(conv1(x))))
        h = torch.nn.functional.max_pool2d(h, 2)          # [2, 32, 12, 12]
        h = h.permute(0, 2, 3, 1).reshape(2, -1)          # Keras: (row, col, channel) order
        h = torch.relu(h @ model.dense_1.kernel + model.dense_1.bias)
        expected = h @ model.dense_2.kernel + model.dense_2.bias
        np.testing.assert_allclose(model(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_nchw_and_nhwc_inputs_of_the_same_images_give_the_same_logits(channels):
    first = asyncps.torch.seed_cnn(seed=5, height=10, width=12, channels=channels)
    last = asyncps.torch.seed_cnn(seed=5, height=10, width=12, channels=channels, data_format="channels_last")
    assert first.data_format == "channels_first" and last.data_format == "channels_last"
    # The data format changes the input only: the same tensors, in the same order, with the same weights.
    assert first.layout == last.layout
    np.testing.assert_array_equal(first.flat.numpy(), last.flat.numpy())
    nchw = torch.rand(3, channels, 10, 12)
    nhwc = nchw.permute(0, 2, 3, 1).contiguous()
    with torch.no_grad():
        logits = first(nchw)
        assert logits.shape == (3, 10)
        np.testing.assert_array_equal(logits.numpy(), last(nhwc).numpy())


def test_an_input_in_the_wrong_layout_is_refused_naming_the_expected_one():
    nchw = asyncps.torch.seed_cnn()
    with pytest.raises(asyncps.InvalidArgument, match=r"expects NCHW input \[batch, 1, 28, 28\], got shape "
                                                      r"\(2, 28, 28, 1\): that is NHWC; .*data_format='channels_last'"):
        nchw(torch.rand(2, 28, 28, 1))
    with pytest.raises(asyncps.InvalidArgument, match=r"expects NCHW .*got shape \(2, 28, 28\): add the channel"):
        nchw(torch.rand(2, 28, 28))
    with pytest.raises(asyncps.InvalidArgument, match=r"expects NCHW .*got shape \(2, 3, 28, 28\)$"):
        nchw(torch.rand(2, 3, 28, 28))
    nhwc = asyncps.torch.seed_cnn(data_format="channels_last")
    with pytest.raises(asyncps.InvalidArgument, match=r"expects NHWC input \[batch, 28, 28, 1\], got shape "
                                                      r"\(2, 1, 28, 28\): that is NCHW"):
        nhwc(torch.rand(2, 1, 28, 28))
    with pytest.raises(asyncps.InvalidArgument, match="data_format must be 'channels_first'"):
        asyncps.torch.seed_cnn(data_format="NHWC")


def test_mnist_load_gives_either_layout():
    data = need_data()
    x, y = asyncps.mnist.load(data, "test", limit=8)
    x_last, y_last = asyncps.mnist.load(data, "test", limit=8, data_format="channels_last")
    assert x.shape == (8, 1, 28, 28) and x_last.shape == (8, 28, 28, 1)
    assert x.flags.c_contiguous and x_last.flags.c_contiguous
    np.testing.assert_array_equal(x[:, 0], x_last[..., 0])
    np.testing.assert_array_equal(y, y_last)
    model = asyncps.torch.seed_cnn()
    assert asyncps.torch.evaluate(model, x, y) == \
        asyncps.torch.evaluate(asyncps.torch.seed_cnn(data_format="channels_last"), x_last, y)


@pytest.fixture(scope="module")
def cpp_initial_weights(tmp_path_factory):
    """asyncps-worker's weights after one SGD step with lr 1e-30: its initial
    weights (the step changes no kernel entry but exact zeros; biases move to
    ~1e-30)."""
    need_data()
    path = str(tmp_path_factory.mktemp("cpp") / "init.npz")
    subprocess.run([binary("worker"), "--algo", "single", "--optimizer", "sgd", "--lr", "1e-30", "--epochs", "1",
                    "--train-limit", "16", "--seed", "7", "--save-weights", path],
                   check=True, capture_output=True, timeout=60)
    return path


def test_initial_weights_are_the_cpp_workers_bit_for_bit(cpp_initial_weights):
    model = asyncps.torch.seed_cnn(seed=7)
    with np.load(cpp_initial_weights) as f:
        assert sorted(f.files) == sorted(name for name, _ in CPP_LAYOUT)
        for name, p in model.named_parameters():
            cpp = f[asyncps.torch.tensor_name(name)]
            assert cpp.dtype == np.float32 and cpp.shape == tuple(p.shape)
            mine = p.detach().numpy()
            if name.endswith("kernel"):
                nonzero = mine != 0
                np.testing.assert_array_equal(cpp[nonzero], mine[nonzero])
            np.testing.assert_allclose(cpp, mine, rtol=0, atol=1e-25)
    assert not np.array_equal(asyncps.torch.seed_cnn(seed=8).flat.numpy(), model.flat.numpy())


def test_npz_files_load_both_ways(cpp_initial_weights, tmp_path):
    model = asyncps.torch.seed_cnn(seed=1)
    asyncps.torch.load_weights(cpp_initial_weights, model.named_parameters())  # C++ -> PyTorch
    np.testing.assert_allclose(model.flat.numpy(), asyncps.torch.seed_cnn(seed=7).flat.numpy(), rtol=0, atol=1e-25)
    assert np.abs(model.dense_2.bias.detach().numpy()).max() > 0  # the file's biases (~1e-30), not seed 7's zeros
    ours = str(tmp_path / "torch.npz")
    asyncps.torch.save_weights(ours, model.named_parameters())                 # PyTorch -> the C++ format
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(cpp_initial_weights) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
    with np.load(ours) as a, np.load(cpp_initial_weights) as b:
        for k in b.files:
            assert (a[k].dtype, a[k].shape) == (b[k].dtype, b[k].shape)
    wrong = asyncps.torch.SeedCNN(num_classes=5)
    with pytest.raises(asyncps.InvalidArgument, match="dense_2/kernel' has shape"):
        asyncps.torch.load_weights(ours, wrong.named_parameters())


def test_distributed_optimizer_exchanges_the_models_own_flat_buffer(server):
    model = asyncps.torch.seed_cnn()
    before = model.flat.data_ptr()
    opt = asyncps.torch.DistributedOptimizer(torch.optim.Adam(model.parameters()), model.named_parameters(),
                                             servers=server.endpoints)
    assert opt.flat.data_ptr() == before and model.conv2d_1.kernel.data_ptr() == before
    assert opt.layout == model.layout
    opt.init_or_pull()
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    w0, w = asyncps.torch.seed_cnn().flat.numpy(), model.flat.numpy().copy()
    assert not np.array_equal(w, w0)  # Adam moved the weights in the shared buffer
    assert opt.finish() == 1  # ADAG: ceil(1 / 12)
    center = np.empty(model.layout.total_size, dtype=np.float32)
    opt.client.pull(center)
    np.testing.assert_allclose(center, w0 + (w - w0) / np.float32(12), rtol=0, atol=1e-7)  # C = W0 + (W - W0) / win
    np.testing.assert_array_equal(model.flat.numpy(), center)  # and the worker ends at C
