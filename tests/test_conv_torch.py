"""Convolution, pooling, upsampling and their layers against PyTorch in float64: values, first and second
derivatives (skipped when torch is not installed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_conv import FEW, conv_arrays, conv_configs, pool_configs, separated

from tinygrad_vae import Tensor, gradients, nn
from tinygrad_vae.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore:Using padding='same'")]


def assert_matches_torch(ours: Any, theirs: Any, arrays: list[np.ndarray], second: bool = True, seed: int = 0) -> None:
    """The value, the vector-Jacobian product for a random v and (``second``) the gradient of <vjp, w>."""
    rng = np.random.default_rng(seed)
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(out.shape)
    g_ours = gradients(out, xs, grad_output=Tensor(v), create_graph=second)
    g_theirs = torch.autograd.grad(expected, ts, grad_outputs=torch.tensor(v), create_graph=second)
    for g, h in zip(g_ours, g_theirs):
        np.testing.assert_allclose(g.data, h.detach().numpy(), rtol=1e-10, atol=1e-12)
    if not second:
        return
    ws = [rng.standard_normal(a.shape) for a in arrays]
    inner_ours = sum((g * Tensor(w)).sum() for g, w in zip(g_ours, ws))
    inner_theirs = sum((g * torch.tensor(w)).sum() for g, w in zip(g_theirs, ws))
    gg_ours = gradients(inner_ours, xs, materialize_grads=True)
    gg_theirs = torch.autograd.grad(inner_theirs, ts, allow_unused=True, materialize_grads=True)
    for g, h in zip(gg_ours, gg_theirs):
        np.testing.assert_allclose(g.data, h.numpy(), rtol=1e-10, atol=1e-12)


@FEW
@given(conv_configs(), st.booleans())
def test_conv2d_matches_torch(c: dict[str, Any], same: bool) -> None:
    padding = "same" if same else c["padding"]
    stride = (1, 1) if same else c["stride"]
    args = (stride, padding, c["dilation"], c["groups"])
    # x * x makes the second derivative in x non-zero.
    assert_matches_torch(lambda x, w, b: F.conv2d(x * x, w, b, *args),
                         lambda x, w, b: TF.conv2d(x * x, w, b, *args), conv_arrays(c), seed=c["seed"])


@FEW
@given(conv_configs())
def test_conv1d_matches_torch(c: dict[str, Any]) -> None:
    x, w, b = conv_arrays(c)
    args = (c["stride"][1], c["padding"][1], c["dilation"][1], c["groups"])
    assert_matches_torch(lambda x, w, b: F.conv1d(x * x, w, b, *args), lambda x, w, b: TF.conv1d(x * x, w, b, *args),
                         [x[:, :, 0], w[:, :, 0], b], seed=c["seed"])


@FEW
@given(conv_configs(transposed=True))
def test_conv_transpose2d_matches_torch(c: dict[str, Any]) -> None:
    args = (c["stride"], c["padding"], c["output_padding"], c["groups"], c["dilation"])
    assert_matches_torch(lambda x, w, b: F.conv_transpose2d(x * x, w, b, *args),
                         lambda x, w, b: TF.conv_transpose2d(x * x, w, b, *args),
                         conv_arrays(c, transposed=True), seed=c["seed"])


def test_unbatched_convolutions_match_torch() -> None:
    rng = np.random.default_rng(0)
    x, w, wt = rng.standard_normal((3, 5, 4)), rng.standard_normal((4, 3, 2, 2)), rng.standard_normal((3, 2, 3, 3))
    assert_matches_torch(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1), [x, w])
    assert_matches_torch(lambda x, w: F.conv_transpose2d(x, w, stride=2), lambda x, w: TF.conv_transpose2d(x, w, stride=2),
                         [x, wt])
    assert_matches_torch(lambda x, w: F.conv1d(x, w, padding="same"), lambda x, w: TF.conv1d(x, w, padding="same"),
                         [x[:, 0], w[:, :, 0]])


@FEW
@given(pool_configs(), st.integers(1, 2))
def test_max_pool2d_matches_torch_with_its_indices(c: dict[str, Any], dilation: int) -> None:
    args = (c["kernel"], c["stride"], c["padding"], dilation)
    x = separated((2, 2, *(n + 2 for n in c["size"])), c["seed"])
    _, indices = F.max_pool2d(Tensor(x), *args, return_indices=True)
    _, their_indices = TF.max_pool2d(torch.tensor(x), *args, return_indices=True)
    np.testing.assert_array_equal(indices.data, their_indices.numpy())
    assert_matches_torch(lambda t: F.max_pool2d(t, *args), lambda t: TF.max_pool2d(t, *args), [x], second=False)


def test_max_pool2d_ties_and_unbatched_input_match_torch() -> None:
    x = np.ones((2, 4, 5))
    x[:, 1:3, 1:3] = 2.0
    assert_matches_torch(lambda t: F.max_pool2d(t, 3, 1, 1), lambda t: TF.max_pool2d(t, 3, 1, 1), [x], second=False)


@FEW
@given(pool_configs(), st.booleans(), st.sampled_from([None, 2, 5]))
def test_avg_pool2d_matches_torch(c: dict[str, Any], count_include_pad: bool, divisor: int | None) -> None:
    x = np.random.default_rng(c["seed"]).standard_normal((2, 3, *c["size"]))
    args = (c["kernel"], c["stride"], c["padding"], False, count_include_pad, divisor)
    assert_matches_torch(lambda t: F.avg_pool2d(t * t, *args), lambda t: TF.avg_pool2d(t * t, *args), [x])


@FEW
@given(st.integers(1, 3), st.integers(3, 6), st.sampled_from([2, 3, 0.5, 1.5, 0.7, 2.3, 1.0 / 3.0, "size"]),
       st.booleans(), st.integers(0, 2**16))
def test_interpolate_nearest_matches_torch(spatial: int, n: int, scale: Any, recompute: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = tuple(int(rng.integers(n, n + 3)) for _ in range(spatial))
    x = rng.standard_normal((2, 2, *shape))
    if scale == "size":
        kwargs: dict[str, Any] = {"size": tuple(int(rng.integers(1, 9)) for _ in range(spatial))}
    else:
        kwargs = {"scale_factor": scale, "recompute_scale_factor": recompute}
        # torch's CPU kernels copy o (or take o // 2) when the output has the input's size (or twice it), in some
        # paths and not in others (their forward and backward disagree): those sizes with another factor are left out.
        assume(recompute or all(int(np.floor(m * scale)) not in (m, 2 * m) or scale in (1, 2) for m in shape))
    assert_matches_torch(lambda t: F.interpolate(t * t, **kwargs), lambda t: TF.interpolate(t * t, **kwargs), [x])


def _copy_parameters(ours: nn.Module, theirs: Any) -> None:
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            assert tuple(p.shape) == ours.state_dict()[name].shape
            p.copy_(torch.tensor(ours.state_dict()[name]))


@pytest.mark.parametrize(("ours", "theirs", "x_shape"), [
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=np.float64),
     lambda: torch.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 7, 6)),
    (lambda: nn.Conv2d(4, 6, (3, 2), padding="same", dilation=(1, 2), bias=False, dtype=np.float64),
     lambda: torch.nn.Conv2d(4, 6, (3, 2), padding="same", dilation=(1, 2), bias=False), (4, 7, 6)),
    (lambda: nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2, dtype=np.float64),
     lambda: torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 9)),
    (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2,
                                dtype=np.float64),
     lambda: torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2),
     (2, 4, 4, 5)),
    (lambda: nn.MaxPool2d(3, 2, 1), lambda: torch.nn.MaxPool2d(3, 2, 1), (2, 3, 7, 6)),
    (lambda: nn.AvgPool2d((3, 2), 1, (1, 0), count_include_pad=False),
     lambda: torch.nn.AvgPool2d((3, 2), 1, (1, 0), count_include_pad=False), (2, 3, 7, 6)),
    (lambda: nn.Upsample(scale_factor=(2, 1.5)), lambda: torch.nn.Upsample(scale_factor=(2, 1.5)), (2, 3, 4, 5)),
    (lambda: nn.Upsample(size=7), lambda: torch.nn.Upsample(size=7), (2, 3, 4)),
])
def test_layers_match_torch_with_the_same_parameters(ours: Any, theirs: Any, x_shape: tuple[int, ...]) -> None:
    m, t = ours(), theirs().double()
    _copy_parameters(m, t)
    params = [p.data for p in m.parameters()]
    x = separated(x_shape, 0)

    def run_ours(x: Tensor, *ps: Tensor) -> Tensor:
        for name, p in zip(dict(m.named_parameters()), ps):
            vars(m)[name] = p  # the drawn tensors in place of the parameters, so their gradients are compared
        return m(x)

    def run_theirs(x: Any, *ps: Any) -> Any:
        return torch.func.functional_call(t, dict(zip(dict(t.named_parameters()), ps)), (x,))

    # The layers without parameters are linear or piecewise linear: their second derivatives are checked above.
    assert_matches_torch(run_ours, run_theirs, [x, *params], second=bool(params))
    assert repr(m) == repr(t) or isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Upsample))


def test_conv_transpose_output_size_matches_torch() -> None:
    m = nn.ConvTranspose2d(2, 3, 3, stride=(2, 3), padding=1, dtype=np.float64)
    t = torch.nn.ConvTranspose2d(2, 3, 3, stride=(2, 3), padding=1).double()
    _copy_parameters(m, t)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 5))
    for size in [(7, 13), (8, 14), (8, 15)]:
        np.testing.assert_allclose(m(Tensor(x), output_size=size).data,
                                   t(torch.tensor(x), output_size=size).detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("layer", ["Conv2d", "Conv1d", "ConvTranspose2d"])
def test_default_initialisation_has_torchs_bounds(layer: str) -> None:
    """torch's kaiming_uniform(a=sqrt(5)) weight and its bias: U(-b, b) with b = 1/sqrt(fan_in) by torch's fan rule."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, layer)(16, 32, 3, groups=2)
    ours = getattr(nn, layer)(16, 32, 3, groups=2, generator=np.random.default_rng(0))
    assert ours.weight.shape == tuple(theirs.weight.shape) and ours.bias.shape == tuple(theirs.bias.shape)
    bound = 1 / np.sqrt(torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)[0])
    for p, q in [(ours.weight.data, theirs.weight), (ours.bias.data, theirs.bias)]:
        assert float(q.detach().abs().max()) <= bound and np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.8 * bound  # not a narrower draw (32+ draws reach 0.8 b with probability 0.999)
