"""The package's layers: imports point one way, the public names stay, the engine loads alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_vae

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tinygrad_vae"

# Each unit of the package and its layer. A module may import from lower layers and from its own
# unit, never from a higher layer or from another unit of its own layer.
LAYERS = {
    "validation": 0,
    "core": 1,
    "ops": 2,
    "func": 3, "testing": 3, "instruments": 3, "compiler": 3,
    "nn": 4, "optim": 4, "data": 4,
    "vae": 5,
}
FACADE = {"tinygrad_vae/__init__.py", "tinygrad_vae/__main__.py"}  # re-export everything, by design

# The names `from tinygrad_vae import ...` gave before the package was split into layers.
PUBLIC_NAMES = [
    "PRESETS", "VAE", "AnomalyError", "GradcheckError", "OpError", "Tensor", "Trainer", "affine", "concatenate",
    "data", "detect_anomaly", "enable_grad", "gaussian_kl", "get_default_dtype", "grad", "gradcheck",
    "gradgradcheck", "gradients", "hessian", "hvp", "init", "is_grad_enabled", "jacobian", "jvp", "log_sigmoid",
    "log_softmax", "matmul", "maximum", "metrics", "minimum", "nn", "no_grad", "optim", "reparameterize",
    "serialization", "set_default_dtype", "set_grad_enabled", "softmax", "squared_error", "stack", "tensor",
    "trace_backward", "trainer_from_preset", "unbroadcast", "value_and_grad", "vjp", "where",
]


def unit_of(module: str) -> str | None:
    """``tinygrad_vae.ops.linalg`` -> ``ops``; the package itself -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "tinygrad_vae" else None


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every import of the package in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names if alias.name.startswith("tinygrad_vae")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tinygrad_vae"):
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
    return found


def violations(path: Path) -> list[str]:
    """What ``path`` imports against the layers, or of another layer's private names."""
    here = module_name(path)
    own = unit_of(here)
    problems = []
    for line, target, names in imports_of(path):
        # `from tinygrad_vae import nn` names the unit in the imported name, not in the module.
        targets = [f"{target}.{name}" for name in names] if target == "tinygrad_vae" else [target]
        for full in targets:
            other = unit_of(full)
            if other is None or other == own or other not in LAYERS:
                continue
            if LAYERS[other] >= LAYERS[own]:
                problems.append(f"{path.relative_to(ROOT)}:{line}: {here} ({own}, layer {LAYERS[own]}) imports "
                                f"{full} ({other}, layer {LAYERS[other]})")
        if target != "tinygrad_vae" and unit_of(target) != own:
            problems += [f"{path.relative_to(ROOT)}:{line}: imports the private name {name} from {target}"
                         for name in names if name.startswith("_")]
    return problems


def package_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if str(p.relative_to(ROOT)) not in FACADE)


def test_every_unit_of_the_package_has_a_layer() -> None:
    units = {unit_of(module_name(p)) for p in package_files()}
    assert units == set(LAYERS)


def test_imports_point_from_the_application_down_to_the_core() -> None:
    problems = [problem for path in package_files() for problem in violations(path)]
    assert problems == []


def test_the_import_check_catches_an_upward_import_and_a_private_name(tmp_path: Path) -> None:
    bad = PACKAGE / "core" / "_layer_check_probe.py"
    bad.write_text("from tinygrad_vae.nn import Linear\nfrom tinygrad_vae.validation import _hidden\n")
    try:
        problems = violations(bad)
    finally:
        bad.unlink()
    assert len(problems) == 2
    assert "imports tinygrad_vae.nn (nn, layer 4)" in problems[0]
    assert "private name _hidden" in problems[1]


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_public_names_stay_importable(name: str) -> None:
    exec(f"from tinygrad_vae import {name}", {})  # noqa: S102 (a fixed list of names)
    assert name in tinygrad_vae.__all__


def test_the_vae_is_reachable_both_ways() -> None:
    from tinygrad_vae.vae import VAE

    assert tinygrad_vae.VAE is VAE


def test_importing_the_package_loads_neither_the_application_nor_plotting_nor_scikit_learn() -> None:
    code = ("import sys, tinygrad_vae; "
            "print(sorted(m for m in sys.modules if m.startswith(('tinygrad_vae.vae', 'matplotlib', 'sklearn'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'VAEs'"):
        tinygrad_vae.VAEs  # noqa: B018


def test_no_module_is_over_700_lines() -> None:
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {path: n for path, n in lengths.items() if n > 700} == {}
