"""Mutation check: apply one plausible bug at a time and see whether the tests notice.

Usage: python benchmarks/mutation_check.py [--only NAME] [--list]

Each mutant is a (name, file, exact original snippet, replacement, related test files)
entry in MUTANTS. For each one the repository (without .git) is copied to a temporary
directory, the snippet is replaced there (the working tree is never touched), and the
related tests run with ``pytest -x -q`` under HYPOTHESIS_PROFILE=ci. If they all pass,
the whole suite runs. A mutant that passes everything survives: either a test is
missing or the mutant is equivalent (behaves as the original). The survivors and the
kill rate are printed at the end; the exit status is 1 when any mutant survived.

Not run by CI: with about fifty mutants it takes several minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent


class Mutant(NamedTuple):
    """One bug: ``original`` (which must occur exactly once in ``file``) becomes ``replacement``."""

    name: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]


EW, RED, MOV, LIN = (f"tinygrad_vae/ops/{m}.py" for m in ("elementwise", "reductions", "movement", "linalg"))
ACT, LOSS = "tinygrad_vae/ops/activations.py", "tinygrad_vae/ops/losses.py"
ENG, FUN = "tinygrad_vae/core/engine.py", "tinygrad_vae/core/function.py"
SGD, ADAM, CLIP, RMS, ADAGRAD, SCHED = (f"tinygrad_vae/optim/{m}.py" for m in
                                       ("sgd", "adam", "clip", "rmsprop", "adagrad", "lr_scheduler"))
VAE, GC = "tinygrad_vae/vae/model.py", "tinygrad_vae/testing/gradcheck.py"
T_GRAD = "tests/test_ops_gradients.py"
T_KILLED = "tests/test_mutants_killed.py"

MUTANTS: list[Mutant] = [
    # --- elementwise gradient rules
    Mutant("sub_grad_sign", EW, "unbroadcast(-grad, b.shape) if need_b", "unbroadcast(grad, b.shape) if need_b",
           (T_GRAD,)),
    Mutant("mul_grads_swapped", EW, "unbroadcast(grad * b, a.shape) if need_a else None,\n"
           "            unbroadcast(grad * a, b.shape)", "unbroadcast(grad * a, a.shape) if need_a else None,\n"
           "            unbroadcast(grad * b, b.shape)", (T_GRAD,)),
    Mutant("add_lost_unbroadcast", EW, "unbroadcast(grad, a.shape) if need_a else None,\n"
           "            unbroadcast(grad, b.shape) if need_b else None,", "unbroadcast(grad, a.shape) if need_a else None,\n"
           "            grad if need_b else None,", (T_GRAD,)),
    Mutant("div_grad_b_sign", EW, "unbroadcast(-grad * out / b, b.shape)", "unbroadcast(grad * out / b, b.shape)",
           (T_GRAD,)),
    Mutant("pow_scalar_exponent_off_by_one", EW, "(a ** (c - 1)) * c", "(a ** (c - 2)) * c", (T_GRAD,)),
    Mutant("pow_grad_b_drops_log", EW, "grad * power * Log.apply(base), b.shape)", "grad * power, b.shape)",
           (T_GRAD, "tests/test_ops_math.py")),
    Mutant("pow_zero_base_limit_dropped", EW, "zero_log = at_zero & (unwrap(b) >= 0)",
           "zero_log = at_zero & (unwrap(b) > 0)", (T_GRAD, "tests/test_ops_math.py")),
    Mutant("maximum_tie_not_split", EW, "+ 0.5 * (x == y)", "+ 1.0 * (x == y)", (T_GRAD, "tests/test_ops_math.py")),
    Mutant("clip_lower_bound_exclusive", EW, "inside &= x >= self.lo", "inside &= x > self.lo",
           (T_GRAD, "tests/test_ops_math.py")),
    Mutant("abs_grad_at_zero_is_one", EW, "return (grad * np.sign(unwrap(a)),)",
           "return (grad * np.where(unwrap(a) >= 0, 1.0, -1.0),)", (T_GRAD,)),
    Mutant("cast_grad_not_cast_back", EW, "return (Cast.apply(grad, dtype=a.dtype),)", "return (grad,)",
           (T_GRAD, "tests/test_tensor_semantics.py")),
    # --- reductions
    Mutant("mean_scale_off_by_one", RED, "scale = 1.0 / self.count if", "scale = 1.0 / (self.count + 1) if",
           ("tests/test_ops_reductions.py", T_GRAD)),
    Mutant("extreme_ties_not_split", RED, "share = is_top / np.sum(is_top, axis=self.axes, keepdims=True)",
           "share = is_top * 1.0", ("tests/test_ops_reductions.py", T_GRAD)),
    Mutant("sum_grad_ignores_keepdims", RED, "return (expand_reduced(grad, a.shape, self.axes, self.keepdims),)",
           "return (expand_reduced(grad, a.shape, self.axes, True),)", ("tests/test_ops_reductions.py", T_GRAD)),
    Mutant("variance_ignores_correction", RED, "builtins.max(0.0, count - correction)", "builtins.max(0.0, count)",
           ("tests/test_ops_reductions.py",)),
    # --- movement
    Mutant("transpose_grad_not_inverted", MOV, "tuple(np.argsort([x % grad.ndim for x in self.axes]))",
           "tuple(x % grad.ndim for x in self.axes)", ("tests/test_ops_shape.py", T_GRAD)),
    Mutant("scatter_add_assigns", MOV, "np.add.at(out, index, values)", "out[index] = values",
           ("tests/test_ops_indexing.py", T_GRAD)),
    Mutant("concatenate_offset_not_advanced", MOV, "            start = stop\n", "",
           ("tests/test_ops_shape.py", T_GRAD)),
    # --- linalg
    Mutant("matmul_grad_a_transpose_flag", LIN, "MatMul.apply(g2, b2, transpose_b=not tb)",
           "MatMul.apply(g2, b2, transpose_b=tb)", ("tests/test_ops_linalg.py", T_GRAD)),
    Mutant("matmul_grad_b_transpose_flag", LIN, "MatMul.apply(a2, g2, transpose_a=not ta)",
           "MatMul.apply(a2, g2, transpose_a=ta)", ("tests/test_ops_linalg.py", T_GRAD)),
    Mutant("affine_bias_grad_mean", LIN, "unbroadcast(g2.sum(axis=0), b.shape)", "unbroadcast(g2.mean(axis=0), b.shape)",
           ("tests/test_nn.py", "tests/test_engine_contracts.py")),
    # --- activations
    Mutant("relu_grad_at_zero_is_one", ACT, "return (grad * (a > 0.0),)", "return (grad * (a >= 0.0),)",
           ("tests/test_ops_activations.py", T_GRAD)),
    Mutant("leaky_relu_slope_sign", ACT, "np.where(x > 0, 1.0, self.slope)", "np.where(x > 0, 1.0, -self.slope)",
           ("tests/test_ops_activations.py", T_GRAD)),
    Mutant("softplus_grad_sigmoid_of_minus_x", ACT, "return (grad * SigmoidFn.apply(a),)",
           "return (grad * SigmoidFn.apply(-a),)", ("tests/test_ops_activations.py", T_GRAD)),
    # --- losses
    Mutant("kl_log_var_grad_drops_half", LOSS, "(Exp.apply(log_var) - 1.0) * (grad * 0.5)",
           "(Exp.apply(log_var) - 1.0) * grad", (T_GRAD,)),
    Mutant("reparameterize_log_var_grad_drops_half", LOSS, "grad * eps * std * 0.5, log_var.shape",
           "grad * eps * std, log_var.shape", (T_GRAD,)),
    Mutant("batchmean_divides_by_size", LOSS, "fn.count = values.shape[0]", "fn.count = values.size",
           (T_GRAD, "tests/test_vae.py")),
    Mutant("loss_grad_not_divided_by_count", LOSS, "grad = grad * (1.0 / fn.count)", "grad = grad * 1.0",
           (T_GRAD, "tests/test_vae.py")),
    Mutant("squared_error_grad_b_sign", LOSS, "unbroadcast(-twice, b.shape)", "unbroadcast(twice, b.shape)",
           (T_GRAD,)),
    # --- engine and Function
    Mutant("engine_assigns_instead_of_adding", ENG, "grads[key] = grads[key] + g", "grads[key] = g",
           ("tests/test_engine_contracts.py", T_GRAD)),
    Mutant("engine_leaf_grad_replaced", ENG, "t.grad = t.grad + grad if create_graph else wrap(t.grad.data + grad)",
           "t.grad = grad if create_graph else wrap(grad)", ("tests/test_engine_contracts.py", "tests/test_tensor_semantics.py")),
    Mutant("engine_oldest_first", ENG, "heappush(ready, (-parent._ctx.sequence_nr, parent))",
           "heappush(ready, (parent._ctx.sequence_nr, parent))", ("tests/test_engine_contracts.py", T_GRAD)),
    Mutant("engine_retains_graph_by_default", ENG, "retain_graph = create_graph if retain_graph is None",
           "retain_graph = True if retain_graph is None", ("tests/test_engine_contracts.py", "tests/test_tensor_semantics.py")),
    Mutant("engine_no_mixed_precision_cast", ENG, "g = g.astype(parent.data.dtype)", "g = g",
           ("tests/test_engine_contracts.py", "tests/test_tensor_semantics.py")),
    Mutant("function_records_under_no_grad", FUN, "if grad_mode.enabled and True in needs:", "if True in needs:",
           ("tests/test_engine_contracts.py", "tests/test_tensor_semantics.py")),
    Mutant("function_checked_no_dtype_cast", FUN, "return g if g.dtype == p_data.dtype else g.astype(p_data.dtype)",
           "return g", ("tests/test_engine_contracts.py",)),
    # --- optimizers
    Mutant("sgd_weight_decay_sign", SGD, "grad = grad + group[\"weight_decay\"] * param.data",
           "grad = grad - group[\"weight_decay\"] * param.data", ("tests/test_optim.py",)),
    Mutant("sgd_momentum_assigns", SGD, "buf += (1.0 - group", "buf[...] = (1.0 - group", ("tests/test_optim.py",)),
    Mutant("sgd_nesterov_drops_momentum", SGD, "grad = grad + momentum * buf if group",
           "grad = grad + buf if group", ("tests/test_optim.py",)),
    Mutant("adam_no_bias_correction_v", ADAM, "denom = np.sqrt(v) / bias_correction2_sqrt + group",
           "denom = np.sqrt(v) + group", ("tests/test_optim.py",)),
    Mutant("adam_m_drops_one_minus_beta", ADAM, "m += (1.0 - beta1) * grad", "m += grad", ("tests/test_optim.py",)),
    Mutant("adamw_decay_ignores_lr", ADAM, "param.data *= 1.0 - lr * weight_decay",
           "param.data *= 1.0 - weight_decay", ("tests/test_optim.py",)),
    Mutant("rmsprop_centered_ignores_grad_avg", RMS, "np.sqrt(square_avg - np.square(grad_avg))", "np.sqrt(square_avg)",
           ("tests/test_optim.py",)),
    Mutant("adagrad_lr_decay_counts_from_one", ADAGRAD, "(t - 1.0) * group", "t * group", ("tests/test_optim.py",)),
    Mutant("step_lr_decays_at_epoch_zero", SCHED, "if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:",
           "if self.last_epoch % self.step_size != 0:", ("tests/test_lr_scheduler.py",)),
    Mutant("clip_grad_norm_loose_epsilon", CLIP, "    coef = max_norm / (total + 1e-6)\n", "    coef = max_norm / (total + 1e-2)\n",
           ("tests/test_optim.py",)),
    # --- the VAE's loss
    Mutant("vae_loss_ignores_beta", VAE, "return recon + kl * self.beta, recon, kl", "return recon + kl, recon, kl",
           ("tests/test_vae.py", T_KILLED)),
    Mutant("vae_kl_mean_over_latents", VAE, "return gaussian_kl(mu, log_var).sum(axis=-1)",
           "return gaussian_kl(mu, log_var).mean(axis=-1)", ("tests/test_vae.py", "tests/test_vae_equivalence.py")),
    Mutant("vae_bernoulli_recon_sign", VAE, "return (out.softplus() - x * out).sum(axis=-1)",
           "return (out.softplus() + x * out).sum(axis=-1)", ("tests/test_vae.py",)),
    # --- gradcheck
    Mutant("gradcheck_rtol_loosened", GC, "<= atol + rtol * abs(numerical):", "<= atol + 100 * rtol * abs(numerical):",
           ("tests/test_gradcheck.py", T_KILLED)),
    Mutant("gradcheck_one_sided_scale", GC, "return (plus - minus) / (2 * eps)", "return (plus - minus) / eps",
           ("tests/test_gradcheck.py",)),
    Mutant("gradcheck_fast_compares_numerical_with_itself", GC, "_compare(float(np.sum(analytical[i].data * u)), numerical",
           "_compare(numerical, numerical", ("tests/test_gradcheck.py",)),
    Mutant("gradgradcheck_no_create_graph", GC, "grads = _vjp(fn, list(args), v, create_graph=True)",
           "grads = _vjp(fn, list(args), v, create_graph=False)", ("tests/test_gradcheck.py",)),
]


def _copy_repository(dest: Path) -> None:
    """The working tree without git metadata, caches or virtual environments."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", ".pytest_cache", ".hypothesis", ".venv", "*.egg-info", ".ruff_cache"))


def _check_snippet(mutant: Mutant, source: str) -> None:
    """Refuse a mutant whose snippet does not occur exactly once in its file's ``source``."""
    count = source.count(mutant.original)
    if count != 1:
        raise SystemExit(f"mutation_check: mutant {mutant.name}: its snippet occurs {count} times in {mutant.file}, "
                         f"expected exactly once: {mutant.original!r}")


def _apply(mutant: Mutant, root: Path) -> None:
    """Replace the mutant's snippet in the copy under ``root``; it must occur exactly once."""
    path = root / mutant.file
    source = path.read_text()
    _check_snippet(mutant, source)
    path.write_text(source.replace(mutant.original, mutant.replacement))


def _passes(root: Path, tests: list[str]) -> bool:
    """True when ``pytest -x -q`` on ``tests`` (all of them when empty) passes in the copy at ``root``."""
    env = dict(os.environ, PYTHONPATH=str(root), HYPOTHESIS_PROFILE="ci", PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    return subprocess.run(command, check=False, cwd=root, env=env, capture_output=True).returncode == 0


def run_mutant(mutant: Mutant) -> str:
    """'killed by related tests', 'killed by full suite' or 'SURVIVED'."""
    with tempfile.TemporaryDirectory(prefix=f"mutant_{mutant.name}_") as tmp:
        root = Path(tmp) / "repo"
        _copy_repository(root)
        _apply(mutant, root)
        related = [t for t in mutant.tests if (root / t).exists()]
        if related and not _passes(root, related):
            return "killed by related tests"
        if not _passes(root, []):
            return "killed by full suite"
        return "SURVIVED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Apply one bug at a time and check that the tests catch it.")
    parser.add_argument("--only", metavar="NAME", help="run only the mutant of this name")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    names = [m.name for m in MUTANTS]
    if len(set(names)) != len(names):
        raise SystemExit("mutation_check: two mutants share a name")
    for mutant in MUTANTS:  # every snippet must match before anything runs
        _check_snippet(mutant, (ROOT / mutant.file).read_text())
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:50s} {m.file}")
        return 0
    chosen = [m for m in MUTANTS if args.only in (None, m.name)]
    if not chosen:
        raise SystemExit(f"mutation_check: no mutant named {args.only!r}; --list shows them")
    survivors = []
    for mutant in chosen:
        start = time.monotonic()
        verdict = run_mutant(mutant)
        print(f"{mutant.name:50s} {verdict} ({time.monotonic() - start:.0f} s)", flush=True)
        if verdict == "SURVIVED":
            survivors.append(mutant)
    killed = len(chosen) - len(survivors)
    print(f"\nkilled {killed}/{len(chosen)} ({100.0 * killed / len(chosen):.0f}%)")
    for m in survivors:
        print(f"survivor: {m.name} in {m.file}: {m.original!r} -> {m.replacement!r}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
