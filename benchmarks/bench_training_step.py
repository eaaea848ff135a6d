"""Speed of one VAE training step: the engine against a hand-written NumPy step.

One step = forward, loss, backward, plain SGD update. The VAE is the origin
notebook's: encoder  x -> ReLU(x W1 + b1) = h -> (mu, log_var) = (h Wmu + bmu, h Wlv + blv),
reparameterisation  z = mu + eps * exp(log_var / 2),  decoder  z -> ReLU(z Wd1 + bd1) = g -> x_hat = g Wd2 + bd2,
and the loss (B = batch size)

    L = 1/B sum_i ||x_i - x_hat_i||^2  -  1/(2B) sum_i sum_j (1 + log_var_ij - mu_ij^2 - exp(log_var_ij)).

Rows (engine / baseline time ratio; the median time of one step, the variants taking turns, after a warm-up):

* the notebook's shape (2 -> 32 -> 2-D latent, batch 64) in float64;
* the MNIST shape (784 -> 400 -> 20-D latent, batch 128) in float64 and float32;
* PyTorch float32 at the MNIST shape, if torch is installed (skipped otherwise);
* the same step written with ``nn``/``optim`` modules.

Before timing, every variant's loss and gradients are compared with the
baseline's on the same batch (an assert, so a wrong computation cannot be timed).

Usage: ``python3 benchmarks/bench_training_step.py [--quick] [--cpu-time] [--malloc-defaults]``.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from tinygrad_vae import Tensor, affine, nn, no_grad, optim
from tinygrad_vae.ops import gaussian_kl, reparameterize, squared_error

Params = dict[str, np.ndarray]
# A variant of the step: (step(x, eps, lr), loss_and_grads(x, eps)) on its own copy of the parameters.
Step = Callable[[np.ndarray, np.ndarray, float], None]
LossAndGrads = Callable[[np.ndarray, np.ndarray], tuple[float, Params]]
Variant = tuple[Step, LossAndGrads]

# The notebook's learning rate; the MNIST shape's loss sums 784 squared errors, so it
# takes a smaller one there (0.01 diverges to NaN within a few steps on a fixed batch).
LR = {2: 0.01, 784: 0.001}


def layer_sizes(n_in: int, n_hidden: int, n_latent: int) -> dict[str, tuple[int, int]]:
    """(fan_in, fan_out) of each of the five layers, by name."""
    return {
        "enc1": (n_in, n_hidden),
        "mu": (n_hidden, n_latent),
        "logvar": (n_hidden, n_latent),
        "dec1": (n_latent, n_hidden),
        "dec2": (n_hidden, n_in),
    }


def init_params(rng: np.random.Generator, n_in: int, n_hidden: int, n_latent: int, dtype: type) -> Params:
    """Normal weights with the notebook's scale 0.1, capped at 1/sqrt(fan_in) so wide layers start at unit scale."""
    params = {}
    for name, (fan_in, fan_out) in layer_sizes(n_in, n_hidden, n_latent).items():
        scale = min(0.1, 1.0 / np.sqrt(fan_in))
        params["W_" + name] = (rng.standard_normal((fan_in, fan_out)) * scale).astype(dtype)
        params["b_" + name] = np.zeros(fan_out, dtype=dtype)
    return params


# --------------------------------------------------------------------------
# BASELINE: the notebook's step, written by hand in NumPy, gradients derived on paper.
# --------------------------------------------------------------------------


def notebook_loss_and_grads(p: Params, x: np.ndarray, eps: np.ndarray) -> tuple[float, Params]:
    """The loss and the gradients with the array operations the origin notebook uses.

    This is the benchmark's baseline, the step every ratio divides by:
    ReLU as ``maximum(0, .)`` and its derivative as a 0/1 array, each loss term as the mean
    over the batch of a per-example sum, ``std`` recomputed in the backward pass, and the
    same products in the same order. One change: the 0/1 array takes the activations' dtype
    (the notebook's ``astype(float)`` would turn a float32 step into float64).
    eps comes in as an argument (the notebook draws it inside the step); so it does for
    every variant, and no variant's time includes drawing it.
    """
    batch = x.shape[0]
    h_enc = np.maximum(0, x @ p["W_enc1"] + p["b_enc1"])
    mu = h_enc @ p["W_mu"] + p["b_mu"]
    log_var = h_enc @ p["W_logvar"] + p["b_logvar"]
    z = mu + eps * np.exp(0.5 * log_var)
    h_dec = np.maximum(0, z @ p["W_dec1"] + p["b_dec1"])
    x_recon = h_dec @ p["W_dec2"] + p["b_dec2"]
    recon = np.mean(np.sum((x - x_recon) ** 2, axis=1))
    kl = -0.5 * np.mean(np.sum(1 + log_var - mu**2 - np.exp(log_var), axis=1))

    std = np.exp(0.5 * log_var)
    d_recon = 2 * (x_recon - x) / batch
    d_h_dec = (d_recon @ p["W_dec2"].T) * (h_dec > 0).astype(h_dec.dtype)
    d_z = d_h_dec @ p["W_dec1"].T
    d_mu = d_z + mu / batch
    d_log_var = d_z * eps * 0.5 * std + 0.5 * (np.exp(log_var) - 1) / batch
    d_h_enc = (d_mu @ p["W_mu"].T + d_log_var @ p["W_logvar"].T) * (h_enc > 0).astype(h_enc.dtype)
    grads = {
        "W_enc1": x.T @ d_h_enc, "b_enc1": np.sum(d_h_enc, axis=0),
        "W_mu": h_enc.T @ d_mu, "b_mu": np.sum(d_mu, axis=0),
        "W_logvar": h_enc.T @ d_log_var, "b_logvar": np.sum(d_log_var, axis=0),
        "W_dec1": z.T @ d_h_dec, "b_dec1": np.sum(d_h_dec, axis=0),
        "W_dec2": h_dec.T @ d_recon, "b_dec2": np.sum(d_recon, axis=0),
    }
    return float(recon + kl), grads


# --------------------------------------------------------------------------
# The same step tuned by hand: fewer NumPy calls, in-place where it is safe. Not the
# baseline; a stricter comparison (the "vs tuned" column), to show what is left on the table.
# --------------------------------------------------------------------------


def tuned_loss_and_grads(p: Params, x: np.ndarray, eps: np.ndarray) -> tuple[float, Params]:
    """The loss and its gradient with respect to every parameter, by the chain rule written out.

    With r = x_hat - x:  dL/dx_hat = 2r/B;  through a ReLU the gradient is masked by (pre-activation > 0);
    dL/dmu = dL/dz + mu/B;  dL/dlog_var = dL/dz * eps * std/2 + (exp(log_var) - 1)/(2B), with std^2 = exp(log_var).
    """
    batch = x.shape[0]
    h = x @ p["W_enc1"] + p["b_enc1"]
    np.maximum(h, 0, out=h)
    mu = h @ p["W_mu"] + p["b_mu"]
    log_var = h @ p["W_logvar"] + p["b_logvar"]
    std = np.exp(0.5 * log_var)
    var = std * std
    z = mu + eps * std
    g = z @ p["W_dec1"] + p["b_dec1"]
    np.maximum(g, 0, out=g)
    r = g @ p["W_dec2"] + p["b_dec2"]
    r -= x
    loss = (np.sum(r * r) - 0.5 * np.sum(1.0 + log_var - mu * mu - var)) / batch

    d_xhat = r * (2.0 / batch)
    d_g = d_xhat @ p["W_dec2"].T
    d_g *= g > 0
    d_z = d_g @ p["W_dec1"].T
    d_mu = d_z + mu * (1.0 / batch)
    d_logvar = d_z * eps * (0.5 * std) + (var - 1.0) * (0.5 / batch)
    d_h = d_mu @ p["W_mu"].T + d_logvar @ p["W_logvar"].T
    d_h *= h > 0
    grads = {
        "W_enc1": x.T @ d_h, "b_enc1": d_h.sum(axis=0),
        "W_mu": h.T @ d_mu, "b_mu": d_mu.sum(axis=0),
        "W_logvar": h.T @ d_logvar, "b_logvar": d_logvar.sum(axis=0),
        "W_dec1": z.T @ d_g, "b_dec1": d_g.sum(axis=0),
        "W_dec2": g.T @ d_xhat, "b_dec2": d_xhat.sum(axis=0),
    }
    return float(loss), grads


def numpy_variant(params: Params, loss_and_grads: Callable[[Params, np.ndarray, np.ndarray], tuple[float, Params]]) -> Variant:
    """A hand-written step on its own copy of the parameters: the gradients, then plain SGD."""
    p = {name: a.copy() for name, a in params.items()}

    def step(x: np.ndarray, eps: np.ndarray, lr: float) -> None:
        _, grads = loss_and_grads(p, x, eps)
        for name, grad in grads.items():
            p[name] -= lr * grad

    return step, lambda x, eps: loss_and_grads(p, x, eps)


# --------------------------------------------------------------------------
# the engine: the same step written with Tensor ops, gradients by backward()
# --------------------------------------------------------------------------


def vae_loss(x: Tensor, x_hat: Tensor, mu: Tensor, log_var: Tensor) -> Tensor:
    """The notebook's loss: each example's summed squared error plus its closed-form Gaussian KL,
    averaged over the batch, with the engine's fused loss ops (one node each, and their sum).
    """
    return squared_error(x_hat, x, reduction="batchmean") + gaussian_kl(mu, log_var, reduction="batchmean")


def engine_ops_loss(p: dict[str, Tensor], x: Tensor, eps: Tensor) -> Tensor:
    h = affine(x, p["W_enc1"], p["b_enc1"]).relu()
    mu = affine(h, p["W_mu"], p["b_mu"])
    log_var = affine(h, p["W_logvar"], p["b_logvar"])
    z = reparameterize(mu, log_var, eps)
    x_hat = affine(affine(z, p["W_dec1"], p["b_dec1"]).relu(), p["W_dec2"], p["b_dec2"])
    return vae_loss(x, x_hat, mu, log_var)


def sgd_update(params: dict[str, Tensor], lr: float) -> None:
    with no_grad():
        for t in params.values():
            t.data -= lr * t.grad.data
            t.grad = None


def tensor_variant(
    params: dict[str, Tensor], loss_fn: Callable[[Tensor, Tensor], Tensor], update: Callable[[float], None]
) -> Variant:
    """A variant for a step written with the engine: ``loss_fn(x, eps)`` then backward, then ``update(lr)``."""

    def step(x: np.ndarray, eps: np.ndarray, lr: float) -> None:
        loss_fn(Tensor(x), Tensor(eps)).backward()
        update(lr)

    def loss_and_grads(x: np.ndarray, eps: np.ndarray) -> tuple[float, Params]:
        loss = loss_fn(Tensor(x), Tensor(eps))
        loss.backward()
        grads = {name: t.grad.data for name, t in params.items()}
        for t in params.values():
            t.grad = None
        return loss.item(), grads

    return step, loss_and_grads


def engine_ops_variant(params: Params) -> Variant:
    p = {name: Tensor(a.copy(), requires_grad=True) for name, a in params.items()}
    return tensor_variant(p, lambda x, eps: engine_ops_loss(p, x, eps), lambda lr: sgd_update(p, lr))


def engine_modules_variant(params: Params) -> Variant:
    """The step written with ``nn.Linear``/``nn.Sequential`` and ``optim.SGD``."""
    n_in, n_hidden = params["W_enc1"].shape
    n_latent = params["W_mu"].shape[1]

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU())
            self.mu = nn.Linear(n_hidden, n_latent)
            self.logvar = nn.Linear(n_hidden, n_latent)
            self.decoder = nn.Sequential(nn.Linear(n_latent, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_in))

        def forward(self, x: Tensor, eps: Tensor) -> Tensor:
            h = self.encoder(x)
            mu, log_var = self.mu(h), self.logvar(h)
            return vae_loss(x, self.decoder(reparameterize(mu, log_var, eps)), mu, log_var)

    model = VAE()
    layers = {"enc1": model.encoder[0], "mu": model.mu, "logvar": model.logvar,
              "dec1": model.decoder[0], "dec2": model.decoder[2]}
    p = {}
    for name, layer in layers.items():
        p["W_" + name], p["b_" + name] = layer.weight, layer.bias
    # The baseline's W is (in, out), as in the notebook; Linear's is torch's (out, in).
    for name, t in p.items():
        t.data = (params[name].T if name.startswith("W_") else params[name]).copy()
    optimizer = optim.SGD(p.values(), lr=1.0)

    def update(lr: float) -> None:
        optimizer.lr = lr
        optimizer.step()
        optimizer.zero_grad()

    step, loss_and_grads = tensor_variant(p, model, update)

    def loss_and_notebook_grads(x: np.ndarray, eps: np.ndarray) -> tuple[float, Params]:
        loss, grads = loss_and_grads(x, eps)
        return loss, {name: g.T if name.startswith("W_") else g for name, g in grads.items()}

    return step, loss_and_notebook_grads


# --------------------------------------------------------------------------
# PyTorch (optional): the same step
# --------------------------------------------------------------------------


def torch_variant(params: Params) -> Variant | None:
    """The step in PyTorch (None when torch is not installed)."""
    try:
        import torch
    except ImportError:
        return None
    p = {name: torch.tensor(a, requires_grad=True) for name, a in params.items()}

    def loss_fn(x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        h = torch.addmm(p["b_enc1"], x, p["W_enc1"]).relu()
        mu = torch.addmm(p["b_mu"], h, p["W_mu"])
        log_var = torch.addmm(p["b_logvar"], h, p["W_logvar"])
        z = mu + eps * (log_var * 0.5).exp()
        x_hat = torch.addmm(p["b_dec2"], torch.addmm(p["b_dec1"], z, p["W_dec1"]).relu(), p["W_dec2"])
        kl = -0.5 * (1.0 + log_var - mu**2 - log_var.exp())
        return (((x_hat - x) ** 2).sum() + kl.sum()) / x.shape[0]

    def step(x: np.ndarray, eps: np.ndarray, lr: float) -> None:
        loss_fn(torch.from_numpy(x), torch.from_numpy(eps)).backward()
        with torch.no_grad():
            for t in p.values():
                t.sub_(t.grad, alpha=lr)
                t.grad = None

    def loss_and_grads(x: np.ndarray, eps: np.ndarray) -> tuple[float, Params]:
        loss = loss_fn(torch.from_numpy(x), torch.from_numpy(eps))
        loss.backward()
        grads = {name: t.grad.numpy().copy() for name, t in p.items()}
        for t in p.values():
            t.grad = None
        return loss.item(), grads

    return step, loss_and_grads


# --------------------------------------------------------------------------
# checking and timing
# --------------------------------------------------------------------------


def check_same(label: str, expected: tuple[float, Params], got: tuple[float, Params], rtol: float) -> None:
    """Assert that a variant computes the baseline's loss and gradients (not a test: a guard for the timing)."""
    (loss_a, grads_a), (loss_b, grads_b) = expected, got
    assert np.isclose(loss_a, loss_b, rtol=rtol, atol=0), f"{label}: loss {loss_b} != baseline {loss_a}"
    for name, ga in grads_a.items():
        scale = np.abs(ga).max()
        assert np.allclose(grads_b[name], ga, rtol=rtol, atol=rtol * scale), f"{label}: gradient of {name} differs"


def time_steps(
    steps: dict[str, Callable[[], None]], n_samples: int, clock: Callable[[], float], block: int = 5
) -> dict[str, float]:
    """Median seconds of one step of each callable, over ``n_samples`` timed steps each.

    The variants take turns in short blocks of ``block`` steps, so a burst of load from
    elsewhere on the machine falls on all of them alike, and the median ignores the steps
    it hit. The first step of each block is not counted: it pays for the memory the
    previous variant left behind (fresh pages from the allocator), which a training loop
    running one variant does not.
    """
    for step in steps.values():  # warm-up: caches, BLAS threads, first-call allocations
        for _ in range(max(3, n_samples // 10)):
            step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(-(-n_samples // (block - 1))):
        for name, step in steps.items():
            step()
            for _ in range(block - 1):
                start = clock()
                step()
                samples[name].append(clock() - start)
    return {name: statistics.median(s) for name, s in samples.items()}


BASELINE = "numpy, notebook"
# case, variant, seconds per step, seconds of the reference, seconds of the tuned step (None: no such column), target
Row = tuple[str, str, float, float, float | None, str]


def bench_case(
    title: str, n_in: int, n_hidden: int, n_latent: int, batch: int, dtype: type,
    n_samples: int, clock: Callable[[], float], targets: dict[str, str], with_torch: bool = False,
) -> list[Row]:
    """Check every variant against the baseline at one shape, then time them all."""
    rng = np.random.default_rng(0)
    params = init_params(rng, n_in, n_hidden, n_latent, dtype)
    if n_in == 2:  # the notebook's data: four Gaussian clusters
        centres = np.array([(-2, -2), (-2, 2), (2, -2), (2, 2)], dtype=float)
        x = centres[rng.integers(0, 4, batch)] + 0.5 * rng.standard_normal((batch, 2))
    else:  # MNIST-like pixel intensities in [0, 1]
        x = rng.random((batch, n_in))
    x = x.astype(dtype)
    eps = rng.standard_normal((batch, n_latent)).astype(dtype)
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    lr = LR[n_in]

    baseline = numpy_variant(params, notebook_loss_and_grads)
    variants = {
        "numpy, tuned": numpy_variant(params, tuned_loss_and_grads),
        "engine ops": engine_ops_variant(params),
        "engine nn+optim": engine_modules_variant(params),
    }
    if with_torch:
        variants["torch"] = torch_variant(params)
    variants = {name: v for name, v in variants.items() if v is not None}
    reference = baseline[1](x, eps)
    for name, (_, loss_and_grads) in variants.items():
        check_same(f"{title}, {name}", reference, loss_and_grads(x, eps), rtol)

    steps = {BASELINE: lambda: baseline[0](x, eps, lr)}
    steps.update({name: (lambda step=step: step(x, eps, lr)) for name, (step, _) in variants.items()})
    times = time_steps(steps, n_samples, clock)
    # A diverged (NaN) run would time the wrong thing.
    assert np.isfinite(baseline[1](x, eps)[0]), f"{title}: training diverged"

    rows = [(title, name, seconds, times[BASELINE], times["numpy, tuned"], targets.get(name, ""))
            for name, seconds in times.items()]
    if "torch" in times:
        rows.append((title, "engine ops / torch", times["engine ops"], times["torch"], None, targets.get("torch", "")))
    return rows


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of handing it back to the kernel; True if it could.

    With glibc's defaults, large freed blocks are unmapped and the heap top is trimmed, so each
    MNIST-shape step page-faults in thousands of fresh pages (up to a third of its time on the
    2-CPU VMs), and how many depends on where each variant's arrays happen to land: the "engine
    ops" and "engine nn+optim" rows, the same computation, differed by 20%. With a high trim and
    mmap threshold no variant faults in steady state, so the table compares computation.
    (A benchmark setting, not the library's.)
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        return bool(libc.mallopt(m_trim_threshold, 1 << 30)) and bool(libc.mallopt(m_mmap_threshold, 32 << 20))
    except (OSError, AttributeError):  # not glibc
        return False


def describe_machine() -> str:
    """What the timings depend on: versions, BLAS settings, and how busy the machine is."""
    names = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    blas_env = ", ".join(f"{k}={os.environ[k]}" for k in names if k in os.environ) or "no BLAS variables set"
    cpus = os.cpu_count() or 1
    load = os.getloadavg()[0]
    lines = [
        f"Python {platform.python_version()}, NumPy {np.__version__}, {cpus} CPUs, {blas_env}; load average {load:.1f}"
    ]
    if load > 0.5 * cpus:
        lines.append(
            "warning: the machine is busy, so times are inflated and noisy (the multi-threaded "
            "MNIST-shape matmuls most of all); compare ratios from a quiet machine"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps (a smoke run, noisy numbers)")
    parser.add_argument("--malloc-defaults", action="store_true",
                        help="leave glibc's malloc settings alone (see keep_freed_memory)")
    parser.add_argument(
        "--cpu-time", action="store_true",
        help="time CPU seconds of this process (time.process_time) instead of wall-clock seconds: robust to load "
             "from other processes, but meaningful only with single-threaded BLAS "
             "(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1), since BLAS threads add up their CPU time",
    )
    args = parser.parse_args()
    small, big = (300, 15) if args.quick else (4000, 200)  # timed steps per variant
    clock = time.process_time if args.cpu_time else time.perf_counter
    print(describe_machine())
    if not args.malloc_defaults:
        kept = keep_freed_memory()
        print("malloc: freed memory kept for reuse (no page faults in steady state)" if kept
              else "malloc: could not change the allocator's settings (not glibc?)")
    print(f"times: median {'CPU' if args.cpu_time else 'wall-clock'} time of one step")

    rows = bench_case("2-D notebook, f64", 2, 32, 2, 64, np.float64, small, clock, {"engine ops": "<= 1.5"})
    rows += bench_case("MNIST shape, f64", 784, 400, 20, 128, np.float64, big, clock, {"engine ops": "<= 1.1"})
    rows += bench_case("MNIST shape, f32", 784, 400, 20, 128, np.float32, big, clock, {"torch": "<= 1.2"},
                       with_torch=True)

    print(f"{'case':<20} {'variant':<20} {'time/step':>12} {'ratio':>7} {'vs tuned':>9}  target")
    for case, variant, seconds, base, tuned, target in rows:
        versus_tuned = f"{seconds / tuned:>9.2f}" if tuned else " " * 9
        print(f"{case:<20} {variant:<20} {seconds * 1e6:>9.1f} us {seconds / base:>7.2f} {versus_tuned}  {target}")


if __name__ == "__main__":
    main()
