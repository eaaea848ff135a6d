"""The same VAE trained in PyTorch and in tinygrad_vae on binarized digits: test ELBO and wall time.

Needs torch (never a dependency of the project, never imported by the tests):

    pip install torch
    python benchmarks/torch_reference.py --epochs 200 --seeds 0 1 2
    python benchmarks/torch_reference.py --arch mlp conv --epochs 30 --seeds 0 1 2 3 4   # both architectures

Both sides get the same architecture (``--arch mlp``: MLP encoder with mu / log-variance
heads, MLP decoder with Bernoulli logits; ``--arch conv``: the convolutional encoder and
decoder of ``vae/convolutional.py``, the same heads), the same loss (summed binary
cross-entropy plus the closed-form KL, averaged over the batch), the same
optimizer (Adam, PyTorch's defaults), the same batch size and epochs, and
the same initial weights (copied from the tinygrad_vae model before
training). Shuffling and noise come from each framework's own seeded
generators, so the runs are equally good draws, not the same draw: compare
the means over seeds against their spread.

Both trained models are then measured by the same code, tinygrad_vae's
``VAE.elbo`` and ``VAE.log_likelihood`` (the PyTorch weights are copied
back), on the fixed digits test split. As a cross-check of that evaluator,
the PyTorch model's test ELBO is also computed in PyTorch (both averaged
over 50 noise draws, so they must agree to a few hundredths of a nat).

Timing: wall-clock seconds of the training loops only (data loading and
evaluation excluded), on the same machine, both with one thread by default
(``--threads N`` to change); the script prints the settings.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import sys
import time

# One thread each by default (--threads N to change): both frameworks then run the same single-core
# workload, and the timing is less at the mercy of whatever else runs on the machine. The BLAS
# thread count must be set before NumPy is imported.
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv[:-1] else 1
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(THREADS)

import numpy as np

from tinygrad_vae.vae.datasets import Dataset, load_dataset
from tinygrad_vae.vae.model import ARCHS, VAE
from tinygrad_vae.vae.training import CONV_PRESETS, PRESETS, Trainer

try:
    import torch
except ImportError:  # a clear message instead of a traceback: torch is optional
    raise SystemExit("torch_reference.py needs PyTorch: pip install torch") from None


CROSS_CHECK_DRAWS = 50


class TorchVAE(torch.nn.Module):
    """The tinygrad_vae ``VAE`` (standard prior, Bernoulli decoder, MLP or conv) in PyTorch, weights copied from
    ``model``."""

    def __init__(self, model: VAE) -> None:
        super().__init__()
        if model.arch == "conv":
            self.encoder, self.mu_head, self.log_var_head, self.decoder = self._conv_modules(model)
        else:
            sizes = (model.input_dim, *model.hidden_dims)
            self.encoder = torch.nn.Sequential(*self._stack(sizes))
            self.mu_head = torch.nn.Linear(sizes[-1], model.latent_dim)
            self.log_var_head = torch.nn.Linear(sizes[-1], model.latent_dim)
            dec = (model.latent_dim, *model.decoder_hidden_dims)
            self.decoder = torch.nn.Sequential(*self._stack(dec), torch.nn.Linear(dec[-1], model.input_dim))
        # Same names and layouts (Linear's weight is (out, in) in both, Conv2d's (out, in, kh, kw),
        # ConvTranspose2d's (in, out, kh, kw)).
        state = {name: torch.from_numpy(array.copy()) for name, array in model.state_dict().items()}
        self.load_state_dict(state)

    @staticmethod
    def _conv_modules(model: VAE) -> tuple[torch.nn.Module, ...]:
        """The layers of ``vae/convolutional.py``, written out in torch: the same order, so the same names."""
        if len(model.hidden_dims) != 2:
            raise SystemExit("torch_reference.py: the conv twin has two conv layers (--hidden-dims C1,C2)")
        nn, (c1, c2), (channels, height, width) = torch.nn, model.hidden_dims, model.image_shape
        h2, w2 = (height - 1) // 2 + 1, (width - 1) // 2 + 1
        features = c2 * h2 * w2
        encoder = nn.Sequential(nn.Unflatten(1, model.image_shape), nn.Conv2d(channels, c1, 3, 1, 1), nn.ReLU(),
                                nn.Conv2d(c1, c2, 3, 2, 1), nn.ReLU(), nn.Flatten())
        decoder = nn.Sequential(nn.Linear(model.latent_dim, features), nn.ReLU(), nn.Unflatten(1, (c2, h2, w2)),
                                nn.ConvTranspose2d(c2, c1, 3, 2, 1, output_padding=(1 - height % 2, 1 - width % 2)),
                                nn.ReLU(), nn.Conv2d(c1, channels, 3, 1, 1), nn.Flatten())
        return encoder, nn.Linear(features, model.latent_dim), nn.Linear(features, model.latent_dim), decoder

    @staticmethod
    def _stack(sizes: tuple[int, ...]) -> list[torch.nn.Module]:
        layers: list[torch.nn.Module] = []
        for n_in, n_out in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        return layers

    def negative_elbo(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Per example: sum_d BCE(x_d, logits_d) + KL(N(mu, diag(exp(log_var))) || N(0, I)), with one z."""
        h = self.encoder(x)
        mu, log_var = self.mu_head(h), self.log_var_head(h)
        eps = torch.randn(mu.shape, generator=generator)
        logits = self.decoder(mu + eps * torch.exp(0.5 * log_var))
        recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
        kl = -0.5 * (1 + log_var - mu * mu - log_var.exp()).sum(dim=1)
        return recon + kl

    def copy_into(self, model: VAE) -> None:
        """Write these weights into the tinygrad_vae ``model`` (same architecture)."""
        model.load_state_dict({name: tensor.detach().numpy() for name, tensor in self.state_dict().items()})


def train_torch(net: TorchVAE, x: np.ndarray, epochs: int, batch_size: int, lr: float, seed: int) -> float:
    """Adam on the mean negative ELBO, shuffled each epoch; returns the wall time of the loop."""
    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    data = torch.from_numpy(x)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(x), batch_size):
            optimizer.zero_grad()
            net.negative_elbo(data[order[i:i + batch_size]], generator).mean().backward()
            optimizer.step()
    return time.perf_counter() - start


def evaluate(model: VAE, x: np.ndarray, k: int, seed: int) -> tuple[float, float]:
    """Test ELBO and importance-weighted log-likelihood (k samples), nats per example, by tinygrad_vae's code.

    64 examples (64k rows) at a time for the 64-128-2 MLP, fewer for a model with wider intermediates.
    """
    rng = np.random.default_rng(seed)
    batch_size = max(1, 64 * 128 // model.activation_width)
    return (float(model.elbo(x, rng=rng).mean()),
            float(model.log_likelihood(x, k=k, rng=rng, batch_size=batch_size).mean()))


def mean_sd(values: list[float]) -> str:
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
    return f"{np.mean(values):8.3f} +- {sd:.3f}"


def compare(arch: str, data: Dataset, args: argparse.Namespace) -> None:
    """Train both frameworks' models of ``arch`` for every seed; print each seed and the means +- sd."""
    hidden_dims = args.hidden_dims or PRESETS[CONV_PRESETS["digits"] if arch == "conv" else "digits"]["model"][
        "hidden_dims"]

    def fresh(seed: int) -> VAE:
        return VAE(data.input_dim, hidden_dims, args.latent_dim, "bernoulli", rng=np.random.default_rng(seed),
                   arch=arch, image_shape=(1, *data.image_shape) if arch == "conv" else None)

    layers = (f"conv, channels {','.join(map(str, hidden_dims))}" if arch == "conv"
              else f"64-{'-'.join(map(str, hidden_dims))}-{args.latent_dim}")
    print(f"\n{arch}: VAE {layers}, latent {args.latent_dim}, Bernoulli; Adam lr {args.lr}, batch {args.batch_size}, "
          f"{args.epochs} epochs; seeds {args.seeds}")
    results: dict[str, dict[str, list[float]]] = {name: {"elbo": [], "ll": [], "seconds": []}
                                                  for name in ("tinygrad_vae", "torch")}
    cross_check: dict[str, list[float]] = {"torch": [], "tinygrad_vae": []}
    for seed in args.seeds:
        ours = fresh(seed)
        net = TorchVAE(ours)  # same initial weights
        trainer = Trainer(ours, optimizer="adam", lr=args.lr, batch_size=args.batch_size)
        start = time.perf_counter()
        trainer.fit(data.x_train, args.epochs, log_every=None)
        results["tinygrad_vae"]["seconds"].append(time.perf_counter() - start)
        results["torch"]["seconds"].append(train_torch(net, data.x_train, args.epochs, args.batch_size, args.lr, seed))

        theirs = fresh(seed)
        net.copy_into(theirs)
        for name, model in (("tinygrad_vae", ours), ("torch", theirs)):
            elbo, ll = evaluate(model, data.x_test, args.k, seed)
            results[name]["elbo"].append(elbo)
            results[name]["ll"].append(ll)
        # The torch model's test ELBO by both implementations, each averaged over CROSS_CHECK_DRAWS noise draws
        # so that the difference between them is not lost in the noise of one draw.
        with torch.no_grad():
            generator, x_test = torch.Generator().manual_seed(seed), torch.from_numpy(data.x_test)
            cross_check["torch"].append(np.mean([-float(net.negative_elbo(x_test, generator).mean())
                                                 for _ in range(CROSS_CHECK_DRAWS)]))
        rng = np.random.default_rng(seed)
        cross_check["tinygrad_vae"].append(np.mean([theirs.elbo(data.x_test, rng=rng).mean()
                                                    for _ in range(CROSS_CHECK_DRAWS)]))
        print(f"seed {seed}: " + "; ".join(
            f"{name} ELBO {r['elbo'][-1]:.3f}, log p(x) {r['ll'][-1]:.3f}, {r['seconds'][-1]:.1f} s"
            for name, r in results.items()), flush=True)

    print(f"{arch}, over {len(args.seeds)} seeds (mean +- sd), nats per example on the test set:")
    print(f"{'':14} {'test ELBO':>18} {f'log p(x), k={args.k}':>20} {'train seconds':>18}")
    for name, r in results.items():
        print(f"{name:14} {mean_sd(r['elbo']):>18} {mean_sd(r['ll']):>20} {mean_sd(r['seconds']):>18}")
    for key, what in (("elbo", "test ELBO"), ("ll", "log p(x)")):
        ours, theirs = np.mean(results["tinygrad_vae"][key]), results["torch"][key]
        inside = min(theirs) <= ours <= max(theirs)
        print(f"tinygrad_vae's mean {what} {ours:.3f} is {'inside' if inside else 'OUTSIDE'} the range of torch's "
              f"seeds [{min(theirs):.3f}, {max(theirs):.3f}]")
    print(f"cross-check of the evaluator, the torch models' test ELBO averaged over {CROSS_CHECK_DRAWS} noise draws: "
          f"computed by torch {mean_sd(cross_check['torch'])}, by tinygrad_vae {mean_sd(cross_check['tinygrad_vae'])}")
    ratio = np.mean(results["tinygrad_vae"]["seconds"]) / np.mean(results["torch"]["seconds"])
    print(f"wall-time ratio tinygrad_vae / torch: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=ARCHS, nargs="+", default=["mlp"], help="one or both architectures")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--hidden-dims", type=lambda s: tuple(int(d) for d in s.split(",")), default=None,
                        help="MLP widths or conv channels (default: the digits presets', 128 and 16,32)")
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("-k", type=int, default=1000, help="importance samples for log p(x)")
    parser.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and for torch (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = load_dataset("digits", binarize_pixels=True)
    print(f"digits, binarized: {len(data.x_train)} train / {len(data.x_test)} test")
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    for arch in args.arch:
        compare(arch, data, args)


if __name__ == "__main__":
    main()
