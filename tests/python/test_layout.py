"""asyncps.Layout: the ordered (name, shape) tensors of a model."""
import pytest

import asyncps


def test_layout_flattens_in_order_and_splits_in_balanced_ranges():
    layout = asyncps.Layout([("conv/kernel", (3, 3, 1, 4)), ("conv/bias", (4,)), ("dense/kernel", [6, 2])])
    assert len(layout) == 3
    assert layout.names == ["conv/kernel", "conv/bias", "dense/kernel"]
    assert layout.tensors == [("conv/kernel", (3, 3, 1, 4)), ("conv/bias", (4,)), ("dense/kernel", (6, 2))]
    assert layout.total_size == 36 + 4 + 12
    assert [layout.offset(i) for i in range(3)] == [0, 36, 40]
    assert layout.partition(2) == [(0, 26), (26, 52)]
    assert layout.partition(3) == [(0, 18), (18, 35), (35, 52)]
    assert layout.fingerprint(2) != layout.fingerprint(3)
    assert "conv/bias [4] 4" in layout.describe()


def test_an_int_shape_is_one_dimension():
    assert asyncps.Layout([("b", 10)]).tensors == [("b", (10,))]


def test_layouts_compare_and_name_the_difference():
    a = asyncps.Layout([("w", (2, 3)), ("b", (3,))])
    assert a == asyncps.Layout([("w", (2, 3)), ("b", (3,))])
    assert a != asyncps.Layout([("w", (3, 2)), ("b", (3,))])
    a.compare([("w", (2, 3)), ("b", (3,))])
    with pytest.raises(asyncps.Mismatch, match="w"):
        a.compare([("w", (3, 2)), ("b", (3,))])


@pytest.mark.parametrize("tensors, message", [
    ([("w", (2, 3)), ("w", (3,))], "'w' appears twice"),
    ([("w", (2, -3))], "must be >= 0"),
    ([("w", (2, 1.5))], "shape entries must be ints, not 1.5 \\(float\\)"),
    ([("w", "23")], "sequence of ints"),
    ([(3, (2,))], "name must be a str"),
    ([("", (2,))], "name is empty"),
    ([("w",)], "must be a \\(name, shape\\) pair"),
    ("w", "list of \\(name, shape\\) pairs"),
])
def test_a_bad_layout_raises_naming_the_entry(tensors, message):
    with pytest.raises(asyncps.InvalidArgument, match=message) as e:
        asyncps.Layout(tensors)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("shape, message", [
    ((2**64,), "shape entry 18446744073709551616 is larger than a tensor may be"),
    ((3, 2**63), "shape entry 9223372036854775808 is larger than a tensor may be"),
    ((-2**70,), "must be >= 0, not -1180591620717411303424"),
    ((2**32, 2**32), "tensor 'w' of shape \\[4294967296,4294967296\\] has more than the maximum"),
])
def test_a_shape_that_does_not_fit_raises_naming_the_tensor_and_the_value(shape, message):
    with pytest.raises(asyncps.InvalidArgument, match=message) as e:
        asyncps.Layout([("b", (3,)), ("w", shape)])
    assert str(e.value).startswith("layout entry 1") and "'w'" in str(e.value)
    with pytest.raises(asyncps.InvalidArgument, match=message):  # wherever a layout is taken
        asyncps.Client(["tcp://127.0.0.1:9"], [("w", shape)])
