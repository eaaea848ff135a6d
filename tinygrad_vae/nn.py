"""Modules: containers of parameters with a ``forward``, in the style of ``torch.nn``.

A ``Module`` registers every ``Parameter`` and every sub-``Module`` assigned
to one of its attributes, in assignment order. From that tree it derives
dotted names (``encoder.0.weight``), the list of parameters an optimizer
updates, and the ``state_dict`` a checkpoint stores.

Differences from PyTorch, kept on purpose for a small teaching library:

- ``Linear`` stores its weight as ``(in_features, out_features)`` and
  computes ``x @ W + b`` (the origin notebook's layout), not ``x @ W.T + b``.
- There are no buffers, hooks on modules, or devices.
- ``zero_grad`` always sets ``.grad = None`` (PyTorch's default).
- ``load_state_dict`` refuses a dtype mismatch instead of casting silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_vae import init as _init
from tinygrad_vae.ops import affine
from tinygrad_vae.tensor import OpError, Tensor, get_default_dtype


class Parameter(Tensor):
    """A Tensor that a ``Module`` registers as one of its parameters; it is created requiring grad.

    ``Parameter(data, dtype=None, name=None)``. The array is shared with
    ``data`` when that is already an ndarray of the right dtype (as
    ``torch.nn.Parameter`` does). Results of ops on a Parameter are plain
    Tensors. Like PyTorch, a parameter can be frozen with
    ``requires_grad_(False)``; optimizers then skip it, since its grad stays None.
    """

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None, name: str | None = None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclass it, assign parameters and submodules, define ``forward``.

    Example::

        class MLP(Module):
            def __init__(self):
                super().__init__()
                self.hidden = Linear(2, 16)
                self.out = Linear(16, 2)

            def forward(self, x):
                return self.out(self.hidden(x).relu())

    Subclasses must call ``super().__init__()`` before assigning attributes.
    """

    _parameters: dict[str, Parameter]
    _modules: dict[str, Module]
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # ---- registration ---------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        """Register Parameters and Modules (in assignment order); store anything else as a plain attribute.

        Parameters and submodules also live in the instance ``__dict__``, so
        reading them is an ordinary (fast) attribute lookup. As in PyTorch, a
        registered parameter can only be replaced by a Parameter or None (so
        ``self.w = self.w - lr * g`` cannot silently unregister it).
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot assign attribute {name!r} before Module.__init__() is called; "
                f"call super().__init__() first in __init__"
            )
        if name in self._parameters and not (value is None or isinstance(value, Parameter)):
            raise TypeError(
                f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter {name!r} "
                f"(a Parameter or None expected; update the array in place with .data[...] = ...)"
            )
        # Replacing a registered entry keeps its place in the order, as in PyTorch.
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            if value.name is None:
                value.name = name
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
            for _ in value.named_parameters(prefix=name):  # give its parameters dotted names
                pass
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    # ---- forward ----------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Module must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- traversal --------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules with their attribute names, in registration order."""
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        """The direct submodules, in registration order."""
        yield from self._modules.values()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Every module of the tree (this one first, named ``prefix``), depth first, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child_name}" if name else child_name, child)
                        for child_name, child in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """Every module of the tree, this one first."""
        for _, module in self.named_modules():
            yield module

    def _all_named_parameters(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        """Every (dotted name, parameter) pair, shared parameters once per name they are reachable by."""
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                yield (f"{module_name}.{name}" if module_name else name), param

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` for every parameter of the tree, each parameter once.

        Order: this module's own parameters in registration order, then each
        submodule's in turn (depth first). Sets each parameter's ``.name`` to
        its dotted name, so graph views can label it.
        """
        seen: set[int] = set()
        for name, param in self._all_named_parameters(prefix):
            if id(param) not in seen:
                seen.add(id(param))
                param.name = name
                yield name, param

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter of the tree, each once, in ``named_parameters`` order."""
        for _, param in self.named_parameters():
            yield param

    def num_parameters(self) -> int:
        """The total number of scalar parameters."""
        return sum(p.size for p in self.parameters())

    # ---- training helpers ---------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (the next backward starts afresh)."""
        for param in self.parameters():
            param.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and every submodule; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Same as ``train(False)``."""
        return self.train(False)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule and then on this one (e.g. to re-initialize); returns self."""
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    # ---- state --------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's array, keyed by dotted name (a shared parameter under each name)."""
        return {name: param.data.copy() for name, param in self._all_named_parameters("")}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays of ``state`` into the parameters, in place.

        Everything is checked before anything is written, so a failed load
        leaves the module unchanged. With ``strict`` (the default) the keys
        must match exactly; with ``strict=False`` missing and unexpected keys
        are skipped and returned. Shapes and dtypes must always match.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{where}: expected a mapping of names to arrays, got {type(state).__name__}")
        own = dict(self._all_named_parameters(""))
        missing = [key for key in own if key not in state]
        unexpected = [key for key in state if key not in own]
        if strict and (missing or unexpected):
            problems = []
            if missing:
                problems.append(f"missing keys {missing}")
            if unexpected:
                problems.append(f"unexpected keys {unexpected}")
            raise KeyError(f"{where}: {'; '.join(problems)} (the module has keys {list(own)})")
        updates = []
        for key, param in own.items():
            if key not in state:
                continue
            value = np.asarray(state[key].data if isinstance(state[key], Tensor) else state[key])
            if value.shape != param.shape:
                raise ValueError(f"{where}: for key {key!r} expected shape {param.shape}, got {value.shape}")
            if value.dtype != param.dtype:
                raise TypeError(f"{where}: for key {key!r} expected dtype {param.dtype}, got {value.dtype}")
            updates.append((param, value))
        for param, value in updates:
            param.data[...] = value
        return IncompatibleKeys(missing, unexpected)

    # ---- printing -------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (override in subclasses)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self._modules.items():
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}({self.extra_repr()}\n" + "\n".join(lines) + "\n)"


_INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "normal": _init.normal,
    "xavier": _init.xavier_uniform,
    "kaiming": _init.kaiming_normal,
}


class Linear(Module):
    """A fully connected layer: ``y = x @ W + b`` as one fused op (``ops.affine``).

    ``weight`` has shape ``(in_features, out_features)`` (the notebook's
    layout; PyTorch stores the transpose) and ``bias`` shape
    ``(out_features,)``, initialized to zeros. ``init`` picks the weight
    initializer (see ``tinygrad_vae.init``):

    - ``"normal"``: ``scale * N(0, 1)``, the notebook's (``scale`` only applies here);
    - ``"xavier"``: Glorot uniform, ``U(-a, a)``, ``a = sqrt(6 / (in + out))``;
    - ``"kaiming"``: He normal for ReLU, ``N(0, 2 / in)``.

    ``rng`` is a ``numpy.random.Generator`` (None: a fresh unseeded one);
    ``dtype`` defaults to ``get_default_dtype()``. Inputs have shape
    ``(..., in_features)``; arrays are wrapped in Tensors.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "normal",
        scale: float = 0.1,
        rng: np.random.Generator | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for label, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Linear: {label} must be a positive int, got {value!r}")
        if init not in _INITIALIZERS:
            raise ValueError(f"Linear: init must be one of {sorted(_INITIALIZERS)}, got {init!r}")
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        shape = (int(in_features), int(out_features))
        kwargs = {"scale": scale} if init == "normal" else {}
        self.in_features, self.out_features = shape
        self.weight = Parameter(_INITIALIZERS[init](shape, rng=rng, dtype=dtype, **kwargs))
        self.bias = Parameter(_init.zeros((shape[1],), dtype=dtype)) if bias else None

    def forward(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise OpError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): "
                f"expected input of shape (..., {self.in_features}), got {x.shape}"
            )
        if self.bias is None:
            return x @ self.weight
        return affine(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    """``max(x, 0)`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sequential(Module):
    """Modules applied one after another; children are named ``"0"``, ``"1"``, ...

    Supports ``len``, iteration, ``seq[i]`` (negative too) and ``seq[a:b]``
    (a new Sequential sharing the same modules).
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(module).__name__}")
            setattr(self, str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        if not -len(modules) <= index < len(modules):
            raise IndexError(f"Sequential: index {index} is out of range for {len(modules)} modules")
        return modules[index]

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x
