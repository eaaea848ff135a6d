"""Speed of a Conv2d forward + backward at the digits' size, against PyTorch when it is installed.

Two layers, 3x3 kernels with padding 1, on a batch of 128 8x8 images (scikit-learn's digits),
float32, as a convolutional VAE's encoder meets them:

* 1 -> 16 channels (input 128x1x8x8), the first layer;
* 16 -> 32 channels (input 128x16x8x8), the second.

One step = the layer's forward pass, a summed loss against a fixed random output gradient,
and the backward pass to the input, the weight and the bias. Each row prints the median time
of one step (after a warm-up, the variants taking turns in blocks) and, with torch installed,
torch's time in the same process and the ratio ours / torch. Nothing is asserted on the times;
the gradients of both are compared before timing, so a wrong computation is not timed. As
``bench_training_step.py`` does, glibc is asked to keep freed memory, so steps do not page-fault.

Usage: ``python3 benchmarks/bench_conv.py [--quick]``. On a busy machine, pin the BLAS threads
(``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1``) and run torch with one thread too (done here).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from bench_training_step import keep_freed_memory  # beside this script, so on sys.path

from tinygrad_vae import Tensor, nn

CASES = [("128x1x8x8 -> 16, 3x3, padding 1", 1, 16), ("128x16x8x8 -> 32, 3x3, padding 1", 16, 32)]
BATCH, SIZE = 128, 8


def ours(layer: nn.Conv2d, x: np.ndarray, v: np.ndarray) -> tuple[Callable[[], None], Callable[[], list]]:
    """A step and a function that returns the step's gradients (input, weight, bias)."""
    xt, vt = Tensor(x, requires_grad=True), Tensor(v)

    def step() -> None:
        xt.grad = None
        layer.zero_grad()
        (layer(xt) * vt).sum().backward()

    return step, lambda: [xt.grad.data, layer.weight.grad.data, layer.bias.grad.data]


def theirs(layer: nn.Conv2d, x: np.ndarray, v: np.ndarray) -> tuple[Callable[[], None], Callable[[], list]] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    t = torch.nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=1)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(layer.weight.data))
        t.bias.copy_(torch.from_numpy(layer.bias.data))
    xt, vt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(v)

    def step() -> None:
        xt.grad = None
        t.zero_grad(set_to_none=True)
        (t(xt) * vt).sum().backward()

    return step, lambda: [xt.grad.numpy(), t.weight.grad.numpy(), t.bias.grad.numpy()]


def median_times(steps: dict[str, Callable[[], None]], n: int, block: int = 10) -> dict[str, float]:
    """The median seconds of one step per variant, the variants taking turns in blocks (a block's first step
    is not counted)."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(max(1, n // block)):
        for name, step in steps.items():
            for i in range(block + 1):
                start = time.perf_counter()
                step()
                if i:
                    times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps (a smoke run, noisy numbers)")
    args = parser.parse_args()
    n = 20 if args.quick else 300
    # As in bench_training_step.py: without it each step page-faults in its fresh arrays, which
    # tripled the median time of a product here.
    keep_freed_memory()
    rng = np.random.default_rng(0)
    print(f"{'case (float32, forward + backward)':36s} {'ours ms':>9s} {'torch ms':>9s} {'ours / torch':>13s}")
    for title, c_in, c_out in CASES:
        layer = nn.Conv2d(c_in, c_out, 3, padding=1, generator=rng, dtype=np.float32)
        x = rng.standard_normal((BATCH, c_in, SIZE, SIZE)).astype(np.float32)
        v = rng.standard_normal((BATCH, c_out, SIZE, SIZE)).astype(np.float32)
        variants = {"ours": ours(layer, x, v)}
        torch_variant = theirs(layer, x, v)
        if torch_variant is not None:
            variants["torch"] = torch_variant
        for step, _ in variants.values():
            step()
        if "torch" in variants:  # the same computation, or the timing means nothing
            for a, b in zip(variants["ours"][1](), variants["torch"][1]()):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max())  # float32 sums
        times = median_times({name: step for name, (step, _) in variants.items()}, n)
        if "torch" in times:
            print(f"{title:36s} {times['ours'] * 1e3:9.3f} {times['torch'] * 1e3:9.3f} "
                  f"{times['ours'] / times['torch']:13.2f}")
        else:
            print(f"{title:36s} {times['ours'] * 1e3:9.3f} {'-':>9s} {'-':>13s}")
    if "torch" not in variants:
        print("(torch is not installed: our times only)")


if __name__ == "__main__":
    main()
