"""Sample quality of the 2-D example's configs over several seeds (the numbers in the README).

    python benchmarks/sample_quality.py                 # both configs, seeds 0-4
    python benchmarks/sample_quality.py --seeds 0 1 --configs default

For each config and seed this trains exactly as ``examples/vae_2d.py --config C --seed S`` does,
draws the same 2,000 samples (decoder means at z ~ p(z)) and measures them against 2,000 fresh
points of the data process (``example.sample_quality``, built on ``tinygrad_vae.metrics``):

* within 3 std: the share of samples within 1.5 of one of the four cluster centres (the data: ~98.9%);
* MMD^2: the unbiased estimate with the RBF kernel k(x, y) = exp(-||x - y||^2 / 2) (bandwidth 1).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import time

import numpy as np

from tinygrad_vae.data import gaussian_mixture

_EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "vae_2d.py"


def _load_example():
    """examples/vae_2d.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("vae_2d", _EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    example = _load_example()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--configs", nargs="+", choices=example.CONFIGS, default=["notebook", "default"])
    args = parser.parse_args()

    # Reference: the data process against fresh data, same measures.
    data_scores = [example.sample_quality(gaussian_mixture(example.N_DATA, rng=np.random.default_rng(seed)), seed)
                   for seed in args.seeds]
    print(f"{'config':<10} {'seed':>4} {'within 3 std':>12} {'MMD^2':>9} {'train s':>8}")
    for config in args.configs:
        rows = []
        for seed in args.seeds:
            start = time.perf_counter()
            trainer, _ = example.train_2d(config, seed, quiet=True)
            seconds = time.perf_counter() - start
            samples = trainer.model.sample(example.N_SAMPLES)  # as in the example: same generator, same draws
            quality = example.sample_quality(samples, seed)
            rows.append((quality["within_3_std"], quality["mmd2"], seconds))
            print(f"{config:<10} {seed:>4} {quality['within_3_std']:>12.1%} {quality['mmd2']:>9.4f} {seconds:>8.1f}")
        within, mmd2, seconds = np.array(rows).T
        print(f"{config:<10} {'mean':>4} {within.mean():>12.1%} {mmd2.mean():>9.4f} {seconds.mean():>8.1f}"
              f"   (worst: {within.min():.1%}, {mmd2.max():.4f})")
    within = [s["within_3_std"] for s in data_scores]
    mmd2 = [s["mmd2"] for s in data_scores]
    print(f"{'data':<10} {'mean':>4} {np.mean(within):>12.1%} {np.mean(mmd2):>9.4f}   (the data process itself)")


if __name__ == "__main__":
    main()
