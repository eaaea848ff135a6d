"""Convolution, pooling and upsampling: values against loop-by-loop definitions, gradients against finite
differences (first and second order) over Hypothesis-drawn configurations, errors, and the layers."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_vae
from tinygrad_vae import Tensor, gradcheck, gradgradcheck, nn
from tinygrad_vae.core.function import OpError
from tinygrad_vae.nn import functional as F

# Each example is a full-Jacobian gradcheck: a third of the profile's examples (8 by default, 166 when thorough).
FEW = settings(max_examples=max(8, settings.default.max_examples // 3))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------
# loop-by-loop definitions, written from the formulas, not from the code under test
# --------------------------------------------------------------------------

def conv2d_loops(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int],
                 padding: tuple[int, int], dilation: tuple[int, int], groups: int) -> np.ndarray:
    """out[:, o, a, q]: the window of x_padded at (a s, q s) with taps d apart, times w[o], summed (per group)."""
    (sh, sw), (dh, dw) = stride, dilation
    kh, kw = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    ho, wo = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1, (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo)) + (0 if b is None else b[:, None, None])
    c_in, c_out = x.shape[1] // groups, w.shape[0] // groups
    for g, a, q in itertools.product(range(groups), range(ho), range(wo)):
        window = xp[:, g * c_in: (g + 1) * c_in, a * sh: a * sh + dh * (kh - 1) + 1: dh,
                    q * sw: q * sw + dw * (kw - 1) + 1: dw]
        out[:, g * c_out: (g + 1) * c_out, a, q] += np.einsum("ncij,ocij->no", window, w[g * c_out: (g + 1) * c_out])
    return out


def conv_transpose2d_loops(x: np.ndarray, w: np.ndarray, stride: tuple[int, int], padding: tuple[int, int],
                           output_padding: tuple[int, int], groups: int, dilation: tuple[int, int]) -> np.ndarray:
    """Each input pixel spreads x[:, c, a, q] w[c, :, i, j] onto the output at (a s + i d, q s + j d), then
    the padding is cut off."""
    kh, kw = w.shape[2:]
    size = [(m - 1) * s - 2 * p + d * (k - 1) + e + 1
            for m, s, p, d, k, e in zip(x.shape[2:], stride, padding, dilation, (kh, kw), output_padding)]
    full = np.zeros((x.shape[0], w.shape[1] * groups, size[0] + 2 * padding[0], size[1] + 2 * padding[1]))
    c_in, c_out = x.shape[1] // groups, w.shape[1]
    for g, a, q, i, j in itertools.product(range(groups), range(x.shape[2]), range(x.shape[3]), range(kh), range(kw)):
        full[:, g * c_out: (g + 1) * c_out, a * stride[0] + i * dilation[0], q * stride[1] + j * dilation[1]] += (
            x[:, g * c_in: (g + 1) * c_in, a, q] @ w[g * c_in: (g + 1) * c_in, :, i, j])
    return full[:, :, padding[0]: padding[0] + size[0], padding[1]: padding[1] + size[1]]


def pool_loops(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
               reduce: str) -> np.ndarray:
    """max (padding -inf) or mean over kh kw (padding 0, counted) of each window."""
    fill = -np.inf if reduce == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=fill)
    ho = (x.shape[2] + 2 * padding[0] - kernel[0]) // stride[0] + 1
    wo = (x.shape[3] + 2 * padding[1] - kernel[1]) // stride[1] + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for a in range(ho):
        for q in range(wo):
            window = xp[:, :, a * stride[0]: a * stride[0] + kernel[0], q * stride[1]: q * stride[1] + kernel[1]]
            out[:, :, a, q] = window.max(axis=(2, 3)) if reduce == "max" else window.mean(axis=(2, 3))
    return out


# --------------------------------------------------------------------------
# configurations
# --------------------------------------------------------------------------

@st.composite
def conv_configs(draw: st.DrawFn, transposed: bool = False) -> dict[str, Any]:
    """A small conv2d (or conv_transpose2d) problem whose kernel fits the padded input."""
    groups = draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    config = {"groups": groups, "kernel": kernel, "stride": stride, "dilation": dilation, "padding": padding,
              "c_in": groups * draw(st.integers(1, 2)), "c_out": groups * draw(st.integers(1, 2)),
              "n": draw(st.integers(1, 2)), "seed": draw(st.integers(0, 2**16))}
    if transposed:
        config["output_padding"] = tuple(draw(st.integers(0, s - 1)) for s in stride)
        # The output size (n - 1) s - 2 p + d (k - 1) + e + 1 must be positive.
        smallest = [max(1, 1 - (d * (k - 1) + e - 2 * p) // s)
                    for p, d, k, e, s in zip(padding, dilation, kernel, config["output_padding"], stride)]
        config["size"] = tuple(draw(st.integers(n, n + 2)) for n in smallest)
    else:
        reach = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
        config["size"] = tuple(draw(st.integers(max(1, r - 2 * p), max(1, r - 2 * p) + 3))
                               for r, p in zip(reach, padding))
    return config


def conv_arrays(c: dict[str, Any], transposed: bool = False) -> list[np.ndarray]:
    rng = _rng(c["seed"])
    x = rng.standard_normal((c["n"], c["c_in"], *c["size"]))
    shape = ((c["c_in"], c["c_out"] // c["groups"]) if transposed else (c["c_out"], c["c_in"] // c["groups"]))
    return [x, rng.standard_normal(shape + c["kernel"]), rng.standard_normal(c["c_out"])]


def conv_of(c: dict[str, Any]) -> Any:
    return lambda x, w, b=None: F.conv2d(x, w, b, c["stride"], c["padding"], c["dilation"], c["groups"])


def conv_transpose_of(c: dict[str, Any]) -> Any:
    return lambda x, w, b=None: F.conv_transpose2d(x, w, b, c["stride"], c["padding"], c["output_padding"],
                                                   c["groups"], c["dilation"])


# --------------------------------------------------------------------------
# conv2d, conv1d, conv_transpose2d
# --------------------------------------------------------------------------

@FEW
@given(conv_configs())
def test_conv2d_matches_its_definition(c: dict[str, Any]) -> None:
    x, w, b = conv_arrays(c)
    expected = conv2d_loops(x, w, b, c["stride"], c["padding"], c["dilation"], c["groups"])
    np.testing.assert_allclose(conv_of(c)(Tensor(x), Tensor(w), Tensor(b)).data, expected, rtol=1e-12, atol=1e-12)


@FEW
@given(conv_configs(transposed=True))
def test_conv_transpose2d_matches_its_definition(c: dict[str, Any]) -> None:
    x, w, b = conv_arrays(c, transposed=True)
    expected = conv_transpose2d_loops(x, w, c["stride"], c["padding"], c["output_padding"], c["groups"],
                                      c["dilation"]) + b[:, None, None]
    out = conv_transpose_of(c)(Tensor(x), Tensor(w), Tensor(b))
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@FEW
@given(conv_configs())
def test_conv2d_gradients_of_input_weight_and_bias(c: dict[str, Any]) -> None:
    assert gradcheck(conv_of(c), conv_arrays(c))


@FEW
@given(conv_configs())
def test_conv2d_second_derivatives(c: dict[str, Any]) -> None:
    # The product with x makes the second derivative in x non-zero as well.
    x, w, b = conv_arrays(c)
    assert gradgradcheck(lambda x, w, b: conv_of(c)(x * x, w, b), [x, w, b], fast_mode=True)


@FEW
@given(conv_configs(transposed=True))
def test_conv_transpose2d_gradients_of_input_weight_and_bias(c: dict[str, Any]) -> None:
    assert gradcheck(conv_transpose_of(c), conv_arrays(c, transposed=True))


@FEW
@given(conv_configs(transposed=True))
def test_conv_transpose2d_second_derivatives(c: dict[str, Any]) -> None:
    x, w, b = conv_arrays(c, transposed=True)
    assert gradgradcheck(lambda x, w, b: conv_transpose_of(c)(x * x, w, b), [x, w, b], fast_mode=True)


@FEW
@given(conv_configs())
def test_conv1d_is_conv2d_over_a_height_of_one_and_has_its_gradients(c: dict[str, Any]) -> None:
    x, w, b = conv_arrays(c)
    x1, w1 = x[:, :, 0], w[:, :, 0]
    args = (c["stride"][1], c["padding"][1], c["dilation"][1], c["groups"])
    expected = conv2d_loops(x1[:, :, None], w1[:, :, None], b, (1,) + args[:1], (0,) + args[1:2],
                            (1,) + args[2:3], c["groups"])[:, :, 0]
    np.testing.assert_allclose(F.conv1d(Tensor(x1), Tensor(w1), Tensor(b), *args).data, expected, atol=1e-12)
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, *args), [x1, w1, b])


def test_conv_of_unbatched_input_is_the_batch_of_one() -> None:
    x, w, b = _rng(0).standard_normal((3, 5, 4)), _rng(1).standard_normal((2, 3, 2, 2)), np.ones(2)
    batched = F.conv2d(Tensor(x[None]), Tensor(w), Tensor(b), padding=1).data
    np.testing.assert_array_equal(F.conv2d(Tensor(x), Tensor(w), Tensor(b), padding=1).data, batched[0])
    wt = _rng(2).standard_normal((3, 2, 2, 2))
    np.testing.assert_array_equal(F.conv_transpose2d(Tensor(x), Tensor(wt), stride=2).data,
                                  F.conv_transpose2d(Tensor(x[None]), Tensor(wt), stride=2).data[0])
    np.testing.assert_array_equal(F.conv1d(Tensor(x[:, 0]), Tensor(w[:, :, 0])).data,
                                  F.conv1d(Tensor(x[None, :, 0]), Tensor(w[:, :, 0])).data[0])


@pytest.mark.parametrize(("kernel", "dilation"), [((3, 2), (1, 1)), ((2, 4), (2, 1)), ((1, 1), (3, 3))])
def test_padding_same_keeps_the_size_and_valid_pads_nothing(kernel: tuple[int, int], dilation: tuple[int, int]) -> None:
    x, w = _rng(0).standard_normal((1, 2, 5, 6)), _rng(1).standard_normal((3, 2, *kernel))
    out = F.conv2d(Tensor(x), Tensor(w), padding="same", dilation=dilation).data
    assert out.shape == (1, 3, 5, 6)
    # torch pads the reach d (k - 1) with the odd position after.
    reach = [d * (k - 1) for d, k in zip(dilation, kernel)]
    xp = np.pad(x, ((0, 0), (0, 0), (reach[0] // 2, reach[0] - reach[0] // 2), (reach[1] // 2, reach[1] - reach[1] // 2)))
    np.testing.assert_allclose(out, conv2d_loops(xp, w, None, (1, 1), (0, 0), dilation, 1), atol=1e-12)
    np.testing.assert_array_equal(F.conv2d(Tensor(x), Tensor(w), padding="valid").data,
                                  F.conv2d(Tensor(x), Tensor(w)).data)


def test_conv_transpose2d_is_the_input_gradient_of_conv2d() -> None:
    """<conv2d(x, w), y> = <x, conv_transpose2d(y, w)>: the adjoint identity, with the defining shapes."""
    x, w = _rng(0).standard_normal((2, 4, 7, 6)), _rng(1).standard_normal((6, 2, 3, 2))
    params = {"stride": (2, 3), "padding": (1, 0), "dilation": (1, 2), "groups": 2}
    y = _rng(2).standard_normal(F.conv2d(Tensor(x), Tensor(w), **params).shape)
    back = F.conv_transpose2d(Tensor(y), Tensor(w), **params).data
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(F.conv2d(Tensor(x), Tensor(w), **params).data * y), np.sum(x * back),
                               rtol=1e-12)


def test_float32_stays_float32_through_forward_and_backward() -> None:
    x = Tensor(_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32), requires_grad=True)
    w = Tensor(_rng(1).standard_normal((3, 2, 3, 3)).astype(np.float32), requires_grad=True)
    out = F.max_pool2d(F.conv_transpose2d(F.conv2d(x, w, stride=2), w), 2)
    out = F.interpolate(F.avg_pool2d(out, 2, padding=1), scale_factor=2)
    out.sum().backward()
    assert out.dtype == x.grad.dtype == w.grad.dtype == np.float32


def test_mixed_float_dtypes_are_refused() -> None:
    with pytest.raises(OpError, match="different float dtypes"):
        F.conv2d(Tensor(np.ones((1, 1, 3, 3), np.float32)), Tensor(np.ones((1, 1, 2, 2))))
    with pytest.raises(OpError, match="bias has dtype float64"):
        F.conv2d(Tensor(np.ones((1, 1, 3, 3), np.float32)), Tensor(np.ones((1, 1, 2, 2), np.float32)), Tensor(np.ones(1)))
    with pytest.raises(OpError, match="scale_factor must be"):
        F.interpolate(np.ones((1, 1, 4)), scale_factor=True)
    assert F.interpolate(np.ones((1, 1, 4)), scale_factor=np.int64(2)).shape == (1, 1, 8)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: F.conv2d(np.ones((1, 3, 5, 5)), np.ones((4, 1, 3, 3)), groups=2), "divisible by groups=2"),
    (lambda: F.conv2d(np.ones((1, 4, 5, 5)), np.ones((4, 1, 3, 3)), groups=2), r"has 4 channels.*expects 2"),
    (lambda: F.conv2d(np.ones((1, 1, 2, 5)), np.ones((1, 1, 3, 3))), r"reaches 3 positions.*padded input's 2"),
    (lambda: F.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), dilation=3), r"reaches 4 positions"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding="same", stride=2), "strided"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding="full"), "'valid' or 'same'"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding=-1), "padding must be"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), stride=0), "stride must be"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), np.ones(3)), r"bias must have shape \(2,\)"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 3, 3))), "weight must be"),
    (lambda: F.conv2d(np.ones((5, 5)), np.ones((1, 1, 3, 3))), r"3-D \(unbatched\) or 4-D"),
    (lambda: F.conv2d(np.ones((1, 1, 5, 5), np.int64), np.ones((1, 1, 3, 3))), "float tensor"),
    (lambda: F.conv1d(np.ones((1, 2, 5)), np.ones((1, 2, 3, 3))), "weight must be"),
    (lambda: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 1, 3, 3)), stride=2, output_padding=2),
     r"output_padding \(2, 2\) must be smaller than stride"),
    (lambda: F.conv_transpose2d(np.ones((1, 3, 3, 3)), np.ones((2, 1, 3, 3))), "expects 2"),
    (lambda: F.conv_transpose2d(np.ones((1, 3, 3, 3)), np.ones((3, 1, 3, 3)), groups=2), "divisible by groups"),
    (lambda: F.conv_transpose2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)), padding=1), "empty output size"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2), "at most half the kernel"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 5), "does not fit"),
    (lambda: F.max_pool2d(np.ones((1, 1, 4, 4)), 2, ceil_mode=True), "ceil_mode"),
    (lambda: F.avg_pool2d(np.ones((1, 1, 4, 4)), 2, divisor_override=0), "divisor_override"),
    (lambda: F.interpolate(np.ones((1, 1, 4, 4)), size=3, scale_factor=2), "exactly one of size and scale_factor"),
    (lambda: F.interpolate(np.ones((1, 1, 4, 4)), scale_factor=2, mode="bilinear"), "only mode='nearest'"),
    (lambda: F.interpolate(np.ones((4, 4)), scale_factor=2), "1 to 3 spatial axes"),
    (lambda: F.interpolate(np.ones((1, 1, 4, 4)), scale_factor=0.1), "empty output size"),
])
def test_bad_arguments_are_clear_errors(call: Any, message: str) -> None:
    with pytest.raises(OpError, match=message):
        call()


# --------------------------------------------------------------------------
# pooling and upsampling
# --------------------------------------------------------------------------

@st.composite
def pool_configs(draw: st.DrawFn) -> dict[str, Any]:
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return {"kernel": kernel, "stride": (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
            "padding": tuple(draw(st.integers(0, k // 2)) for k in kernel),
            "size": tuple(draw(st.integers(k, k + 3)) for k in kernel), "seed": draw(st.integers(0, 2**16))}


def separated(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Distinct values 0.1 apart, shuffled: no ties, so a maximum keeps its place under finite differences."""
    return _rng(seed).permutation(int(np.prod(shape))).reshape(shape) * 0.1 + 0.05


@FEW
@given(pool_configs())
def test_max_pool2d_values_and_gradient(c: dict[str, Any]) -> None:
    x = separated((2, 2, *c["size"]), c["seed"])
    np.testing.assert_array_equal(F.max_pool2d(Tensor(x), c["kernel"], c["stride"], c["padding"]).data,
                                  pool_loops(x, c["kernel"], c["stride"], c["padding"], "max"))
    assert gradcheck(lambda t: F.max_pool2d(t, c["kernel"], c["stride"], c["padding"]), [x])


def test_max_pool2d_with_dilation_and_its_second_derivative() -> None:
    x = separated((1, 2, 6, 5), 3)
    pool = lambda t: F.max_pool2d(t, (2, 3), stride=(1, 2), padding=1, dilation=(2, 1))
    out = pool(Tensor(x)).data
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    assert out[0, 1, 2, 1] == max(xp[0, 1, 2 + i * 2, 2 + j] for i in range(2) for j in range(3))
    assert gradcheck(pool, [x])
    assert gradgradcheck(lambda t: pool(t) * pool(t), [x])


def test_max_pool2d_sends_the_gradient_of_a_tie_to_the_first_maximum_as_torch_does() -> None:
    # Windows (stride 1) over a constant row pair: each gives its gradient to its top-left position.
    x = Tensor(np.ones((1, 1, 2, 3)), requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])
    x = Tensor(np.array([[[[0.0, 2.0], [2.0, 2.0]]]]), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 1.0], [0.0, 0.0]]]])


def test_max_pool2d_indices_are_flat_positions_in_each_plane() -> None:
    x = separated((2, 3, 5, 4), 1)
    out, indices = F.max_pool2d(Tensor(x), 3, stride=2, padding=1, return_indices=True)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(2, 3, -1), indices.data.reshape(2, 3, -1), 2),
                                  out.data.reshape(2, 3, -1))


@FEW
@given(pool_configs(), st.booleans())
def test_avg_pool2d_values_and_derivatives(c: dict[str, Any], count_include_pad: bool) -> None:
    x = _rng(c["seed"]).standard_normal((2, 2, *c["size"]))
    pool = lambda t: F.avg_pool2d(t, c["kernel"], c["stride"], c["padding"],
                                  count_include_pad=count_include_pad)
    expected = pool_loops(x, c["kernel"], c["stride"], c["padding"], "mean")
    if not count_include_pad:
        expected /= pool_loops(np.ones_like(x), c["kernel"], c["stride"], c["padding"], "mean")  # count / kh kw
    np.testing.assert_allclose(pool(Tensor(x)).data, expected, rtol=1e-12)
    assert gradcheck(pool, [x])
    assert gradgradcheck(lambda t: pool(t * t), [x], fast_mode=True)


def test_avg_pool2d_divisor_override_divides_the_window_sums() -> None:
    x = _rng(0).standard_normal((1, 2, 4, 4))
    np.testing.assert_allclose(F.avg_pool2d(Tensor(x), 2, divisor_override=3).data,
                               pool_loops(x, (2, 2), (2, 2), (0, 0), "mean") * 4 / 3, rtol=1e-12)


@pytest.mark.parametrize(("n_in", "scale", "size", "expected"), [
    (3, 2, None, [0, 0, 1, 1, 2, 2]),
    (4, 0.5, None, [0, 2]),
    (3, 1.5, None, [0, 0, 1, 2]),  # floor(o / 1.5) for o = 0..3
    (4, None, 6, [0, 0, 1, 2, 2, 3]),  # floor(o * 4 / 6)
    (5, None, 2, [0, 2]),
])
def test_nearest_copies_input_floor_of_o_over_scale(n_in: int, scale: Any, size: Any, expected: list[int]) -> None:
    x = np.arange(float(n_in))[None, None]
    np.testing.assert_array_equal(F.interpolate(Tensor(x), size=size, scale_factor=scale).data[0, 0], expected)


@FEW
@given(st.integers(2, 4), st.integers(2, 4), st.sampled_from([2, 3, 1.5, 0.7, (2, 1), (1.3, 2.5)]),
       st.integers(0, 2**16))
def test_interpolate_derivatives(h: int, w: int, scale: Any, seed: int) -> None:
    x = _rng(seed).standard_normal((1, 2, h, w)) + 3.0
    f = lambda t: F.interpolate(t, scale_factor=scale)
    assert gradcheck(f, [x])
    assert gradgradcheck(lambda t: f(t) * f(t), [x])


def test_nearest_upsampling_gradient_sums_the_copies() -> None:
    x = Tensor(np.zeros((1, 1, 2, 2)), requires_grad=True)
    F.interpolate(x, scale_factor=(2, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((1, 1, 2, 2), 6.0))
    assert F.interpolate(Tensor(np.zeros((1, 1, 5))), size=7).shape == (1, 1, 7)
    assert F.interpolate(Tensor(np.zeros((1, 1, 2, 2, 2))), scale_factor=2).shape == (1, 1, 4, 4, 4)


# --------------------------------------------------------------------------
# the layers
# --------------------------------------------------------------------------

def _module_gradcheck(module: nn.Module, x: np.ndarray, seed: int = 0, eps: float = 1e-6) -> None:
    """<grad, u> of the loss sum(v * module(x)) against its central difference, for the input and each parameter."""
    rng = _rng(seed)
    xt = Tensor(x, requires_grad=True)
    out = module(xt)
    v = rng.standard_normal(out.shape)
    (out * v).sum().backward()
    for tensor, grad in [(xt, xt.grad)] + [(p, p.grad) for p in module.parameters()]:
        u = rng.standard_normal(tensor.shape)
        original = tensor.data
        tensor.data = original + eps * u
        plus = np.sum(module(Tensor(xt.data)).data * v)
        tensor.data = original - eps * u
        minus = np.sum(module(Tensor(xt.data)).data * v)
        tensor.data = original
        numerical = (plus - minus) / (2 * eps)
        assert abs(np.sum(grad.data * u) - numerical) <= 1e-6 + 1e-6 * abs(numerical)


@FEW
@given(conv_configs())
def test_conv_layers_gradients_of_input_and_parameters(c: dict[str, Any]) -> None:
    args = (c["c_in"], c["c_out"], c["kernel"], c["stride"], c["padding"], c["dilation"], c["groups"])
    x, _, _ = conv_arrays(c)
    _module_gradcheck(nn.Conv2d(*args, generator=_rng(c["seed"]), dtype=np.float64), x, c["seed"])
    x1d = x[:, :, 0]
    _module_gradcheck(nn.Conv1d(*(a[1] if isinstance(a, tuple) else a for a in args),
                                generator=_rng(c["seed"]), dtype=np.float64), x1d, c["seed"])


@FEW
@given(conv_configs(transposed=True))
def test_conv_transpose_layer_gradients_of_input_and_parameters(c: dict[str, Any]) -> None:
    m = nn.ConvTranspose2d(c["c_in"], c["c_out"], c["kernel"], c["stride"], c["padding"], c["output_padding"],
                           c["groups"], dilation=c["dilation"], generator=_rng(c["seed"]), dtype=np.float64)
    _module_gradcheck(m, conv_arrays(c, transposed=True)[0], c["seed"])


def test_pooling_layers_apply_their_ops() -> None:
    x = Tensor(separated((2, 3, 5, 6), 0))
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1)(x).data, F.max_pool2d(x, 3, 2, 1).data)
    out, indices = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(out.data, F.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(indices.data, F.max_pool2d(x, 2, return_indices=True)[1].data)
    np.testing.assert_array_equal(nn.AvgPool2d(3, 1, 1, count_include_pad=False)(x).data,
                                  F.avg_pool2d(x, 3, 1, 1, count_include_pad=False).data)
    np.testing.assert_array_equal(nn.Upsample(size=(7, 9))(x).data, F.interpolate(x, size=(7, 9)).data)
    assert nn.MaxPool2d(2).stride == (2, 2) and nn.AvgPool2d((2, 3)).stride == (2, 3)
    _module_gradcheck(nn.Sequential(nn.MaxPool2d(2), nn.AvgPool2d(2, 1, 1), nn.Upsample(scale_factor=2)),
                      x.data)


@pytest.mark.parametrize(("layer", "weight_shape", "out_channels", "fan_in"), [
    (lambda **kw: nn.Conv2d(6, 8, (3, 2), groups=2, **kw), (8, 3, 3, 2), 8, 18),
    (lambda **kw: nn.Conv1d(4, 6, 5, **kw), (6, 4, 5), 6, 20),
    # torch's fan rule reads weight.shape[1] = out_channels / groups for a transposed convolution
    (lambda **kw: nn.ConvTranspose2d(6, 8, 3, groups=2, **kw), (6, 4, 3, 3), 8, 36),
])
def test_default_initialisation_is_torchs_uniform_on_one_over_root_fan_in(
        layer: Any, weight_shape: tuple[int, ...], out_channels: int, fan_in: int) -> None:
    m = layer(generator=_rng(0))
    bound = 1 / np.sqrt(fan_in)
    assert m.weight.shape == weight_shape and m.bias.shape == (out_channels,)
    for p in (m.weight.data, m.bias.data):
        assert np.all(np.abs(p) <= bound)
    # A uniform draw's variance is bound^2 / 3; 100+ weights put it within 30% (a bound off by sqrt(3) fails).
    assert abs(np.var(m.weight.data) / (bound**2 / 3) - 1) < 0.3
    again = layer(generator=_rng(0))
    np.testing.assert_array_equal(again.weight.data, m.weight.data)
    assert m.weight.dtype == tinygrad_vae.get_default_dtype() and layer(dtype=np.float64).weight.dtype == np.float64


@pytest.mark.parametrize(("build", "message"), [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
    (lambda: nn.Conv2d(2, 4, 3, padding_mode="reflect"), "padding_mode='reflect' is not supported"),
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding="same"), "strided"),
    (lambda: nn.Conv2d(2, 4, 3, padding="full"), "'same' or 'valid'"),
    (lambda: nn.Conv2d(2, 4, 0), "kernel_size must be"),
    (lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, output_padding=2), "smaller than stride"),
    (lambda: nn.Conv2d(2, 4, 3, generator=np.random), "generator must be a numpy.random.Generator"),
    (lambda: nn.MaxPool2d(2, padding=2), "at most half"),
    (lambda: nn.AvgPool2d(2, ceil_mode=True), "ceil_mode"),
    (lambda: nn.Upsample(), "exactly one of size and scale_factor"),
    (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), "only mode='nearest'"),
])
def test_bad_layer_arguments_are_refused_when_built(build: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        build()


def test_layers_refuse_inputs_of_the_wrong_channels_or_rank() -> None:
    with pytest.raises(OpError, match=r"Conv2d\(3, 4, .*expected input \(N, 3, \.\.\.\)"):
        nn.Conv2d(3, 4, 3)(np.ones((1, 2, 5, 5), np.float32))
    with pytest.raises(OpError, match="Conv1d"):
        nn.Conv1d(3, 4, 3)(np.ones((1, 3, 5, 5), np.float32))


def test_conv_transpose_output_size_picks_the_output_padding() -> None:
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, dtype=np.float64, generator=_rng(0))
    x = Tensor(_rng(1).standard_normal((1, 2, 4, 5)))
    assert m(x).shape == (1, 3, 7, 9)
    out = m(x, output_size=(1, 3, 8, 9))
    np.testing.assert_array_equal(out.data, F.conv_transpose2d(x, m.weight, m.bias, 2, 1, (1, 0)).data)
    with pytest.raises(OpError, match=r"output_size \(9, 9\) is not reachable"):
        m(x, output_size=(9, 9))


def test_layers_print_as_torch_does_and_are_exported() -> None:
    assert repr(nn.Conv2d(1, 16, 3, padding=1)) == "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.ConvTranspose2d(4, 2, 2, stride=2, bias=False)) == (
        "ConvTranspose2d(4, 2, kernel_size=(2, 2), stride=(2, 2), bias=False)")
    assert tinygrad_vae.conv2d is F.conv2d and tinygrad_vae.max_pool2d is F.max_pool2d
