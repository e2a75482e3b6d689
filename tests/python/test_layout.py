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
    ([("w", (2, 1.5))], "shape entries must be ints"),
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
