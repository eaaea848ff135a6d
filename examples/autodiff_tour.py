"""A walk through reverse-mode autodiff, from a scalar expression to the VAE's gradient.

Run from the repository root after ``pip install -e '.[plot]'``::

    python examples/autodiff_tour.py               # prints as it goes, figures into tour_out/
    python examples/autodiff_tour.py --out /tmp/tour

Each stop prints what the engine did and, where a picture helps, writes one
into the output folder: a computation graph as Graphviz DOT text and as a
PNG (the PNG needs matplotlib, the ``plot`` extra; without it the tour still
runs and writes the DOT text only). docs/ explains each stop.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tinygrad_vae import AnomalyError, Tensor, detect_anomaly, gradients
from tinygrad_vae.data import gaussian_mixture
from tinygrad_vae.func import hessian, jacobian, jvp, vjp
from tinygrad_vae.instruments.graph import render_png, to_dot
from tinygrad_vae.instruments.trace import trace_backward
from tinygrad_vae.vae.model import VAE


def heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)))


class Drawer:
    """Writes each graph as DOT text, and as a PNG when matplotlib is installed."""

    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        try:
            import matplotlib  # noqa: F401  (only to learn whether the plot extra is there)
        except ImportError:
            self.png = False
            print("(matplotlib is not installed: writing DOT files only; pip install '.[plot]' for PNGs)")
        else:
            self.png = True

    def draw(self, root: Tensor, name: str, **options: object) -> None:
        dot_path = self.out / f"{name}.dot"
        dot_path.write_text(to_dot(root, **options))
        written = [dot_path]
        if self.png:
            written.append(render_png(root, self.out / f"{name}.png", max_nodes=80, **options))
        print("wrote " + ", ".join(str(p) for p in written))


def scalar_expression(drawer: Drawer) -> None:
    heading("1. A scalar expression and its graph")
    a = Tensor(np.array(1.5), requires_grad=True, name="a")
    b = Tensor(np.array(-0.5), requires_grad=True, name="b")
    f = a * b + (a * a).tanh()
    print(f"f(a, b) = a*b + tanh(a^2) = {f.item():.6f} at a = 1.5, b = -0.5")
    print("each op box of the graph is one recorded Function object; arrows show the data flow")
    drawer.draw(f, "1_scalar_graph")

    heading("2. The backward pass, step by step")
    with trace_backward() as trace:
        f.backward()
    trace.print()
    t = np.tanh(1.5**2)
    print(f"df/da = b + 2a (1 - tanh(a^2)^2) = {a.grad.item():.6f}  (by hand: {-0.5 + 3.0 * (1 - t * t):.6f})")
    print(f"df/db = a                        = {b.grad.item():.6f}")
    drawer.draw(f, "2_scalar_graph_with_gradients", show_values=True, show_grads=True, trace=trace)


def vectors_and_transforms() -> None:
    heading("3. Vectors: Jacobians, and products with them")
    x = np.array([0.5, -1.0, 2.0])

    def f(v: Tensor) -> Tensor:
        return v.tanh() * v.sum()

    J = jacobian(f)(x)
    print("J = d f / d x for f(x) = tanh(x) * sum(x):\n" + np.array2string(J, precision=4))
    t = np.array([1.0, 0.0, -1.0])
    _, jt = jvp(f, (x,), (t,))
    _, (vj,) = vjp(f, (x,), t)
    print(f"J t   by jvp (two backward passes, no J): {np.array2string(jt, precision=4)}")
    print(f"t^T J by vjp (one backward pass, no J):   {np.array2string(vj, precision=4)}")
    print(f"agree with J @ t and t @ J: {np.allclose(jt, J @ t) and np.allclose(vj, t @ J)}")
    H = hessian(lambda v: (v.tanh() * v).sum())(x)
    print("Hessian of sum(tanh(x) * x) (diagonal: the terms do not interact):\n" + np.array2string(H, precision=4))


def hooks_and_anomalies() -> None:
    heading("4. Hooks: watching (or changing) a gradient in flight")
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="x")
    h = x.exp()
    h.register_hook(lambda g: print(f"gradient arriving at h = exp(x): {np.array2string(g.data, precision=4)}"))
    (h * h).sum().backward()
    print(f"x.grad = 2 exp(2x) = {np.array2string(x.grad.data, precision=4)}")

    heading("5. Anomaly mode: the first NaN or inf, and the line that made it")
    v = Tensor(np.array([4.0, 0.0]), requires_grad=True, name="v")
    with detect_anomaly(), np.errstate(divide="ignore"):
        root = v.sqrt()
        try:
            root.sum().backward()
        except AnomalyError as error:
            print(f"AnomalyError: {error}")


def vae_gradient(drawer: Drawer, rng: np.random.Generator) -> None:
    heading("6. The VAE: a loss like any other")
    x = Tensor(gaussian_mixture(4, rng=rng), name="x")  # a named Tensor: the graph shows "x"
    model = VAE(input_dim=2, hidden_dims=(4,), latent_dim=2, rng=rng, dtype=np.float64)
    eps = rng.standard_normal((4, 2))
    total, recon, kl = model.loss(x, eps=eps)
    print(f"loss = recon + KL = {recon.item():.4f} + {kl.item():.4f} = {total.item():.4f}  (batch of 4)")

    mu, log_var = model.encode(x)
    z = model.sample_posterior(mu, log_var, eps=eps)
    drawer.draw(z.sum(), "6_vae_reparameterization")
    print("z = mu + exp(log_var / 2) * eps: eps is a constant leaf (grey, (4, 2), into the Reparameterize node), "
          "so the gradient reaches mu and log_var (soft_clamp, which keeps log_var finite, adds no nodes: every "
          "log_var here is inside [-15, 15], where it is the identity)")

    with trace_backward() as trace:
        total.backward()
    print(f"the backward pass processed {len(trace.steps)} nodes; the last five:")
    print("\n".join(trace.format().splitlines()[:1] + trace.format().splitlines()[-5:]))
    drawer.draw(total, "7_vae_loss_graph", trace=trace)

    print("gradient norm of each parameter:")
    for name, p in model.named_parameters():
        print(f"  {name:22s} {np.linalg.norm(p.grad.data):.4g}")

    # One entry, against a central difference of the loss (same eps, float64).
    W = model.mu_head.weight
    saved = W.data[0, 0]
    values = []
    for step in (1e-6, -1e-6):
        W.data[0, 0] = saved + step
        values.append(model.loss(x, eps=eps)[0].item())
    W.data[0, 0] = saved
    numerical = (values[0] - values[1]) / 2e-6
    print(f"d loss / d mu_head.weight[0, 0]: engine {W.grad.data[0, 0]:.8f}, finite difference {numerical:.8f}")

    heading("7. Gradients at intermediate tensors")
    out, mu, log_var, z = model(x, eps=eps)  # the loss again, from its pieces, to ask for d loss / d z and mu
    recon = ((x - out) * (x - out)).sum(axis=1).mean()
    kl = ((log_var + 1.0 - mu * mu - log_var.exp()).sum(axis=1) * -0.5).mean()
    print(f"rebuilt loss {(recon + kl).item():.4f} (model.loss: {total.item():.4f})")
    d_z, d_mu = gradients(recon + kl, [z, mu])
    print("the notebook wrote d_mu = d_z + mu / batch by hand; the engine's rules give the same:",
          bool(np.allclose(d_mu.data, d_z.data + mu.data / len(x))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("tour_out"), help="folder for the figures (created)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the numpy.random.Generator for the VAE stop")
    args = parser.parse_args(argv)
    drawer = Drawer(args.out)
    scalar_expression(drawer)
    vectors_and_transforms()
    hooks_and_anomalies()
    vae_gradient(drawer, np.random.default_rng(args.seed))
    print(f"\nfigures are in {args.out}/; docs/ explains each stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
