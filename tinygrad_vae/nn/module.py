"""``Module`` and ``Parameter``: containers of parameters with a ``forward``, as in ``torch.nn``.

A ``Module`` registers every ``Parameter`` and every sub-``Module`` assigned
to one of its attributes, in assignment order, and the buffers given to
``register_buffer`` (state that is not trained, such as running statistics).
From that tree it derives dotted names (``encoder.0.weight``), the list of
parameters an optimizer updates, and the ``state_dict`` a checkpoint stores
(parameters and persistent buffers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a ``Module`` registers as one of its parameters; it is created requiring grad.

    ``Parameter(data, requires_grad=True, dtype=None, name=None)``. The array
    is shared with ``data`` when that is already an ndarray of the right dtype
    (as ``torch.nn.Parameter`` does). Results of ops on a Parameter are plain
    Tensors. Like PyTorch, a parameter can be frozen, with
    ``requires_grad=False`` or ``requires_grad_(False)``; optimizers then skip
    it, since its grad stays None.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None, name: str | None = None) -> None:
        if not isinstance(requires_grad, bool):
            raise TypeError(f"Parameter: requires_grad must be a bool, got {type(requires_grad).__name__}")
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

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
    _buffers: dict[str, Tensor | None]
    _non_persistent_buffers: set[str]
    _modules: dict[str, Module]
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    # ---- registration ---------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        """Register Parameters and Modules (in assignment order); store anything else as a plain attribute.

        Parameters and submodules also live in the instance ``__dict__``, so
        reading them is an ordinary (fast) attribute lookup. As in PyTorch, a
        registered parameter can only be replaced by a Parameter or None (so
        ``self.w = self.w - lr * g`` cannot silently unregister it), and a
        registered buffer by a Tensor or None, which stays registered (with
        its persistence) in its place.
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
            self._forget(name, keep=self._parameters)
            if value.name is None:
                value.name = name
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self._modules[name] = value
            for dotted, param in value.named_parameters(prefix=name):  # label them for graph views
                param.name = dotted
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to buffer {name!r} "
                                f"(a Tensor or None expected)")
            self._buffers[name] = value
        else:
            self._forget(name)
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Unregister ``name`` as a parameter, buffer or submodule (all but the registry ``keep``)."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        if keep is not self._buffers:
            self._non_persistent_buffers.discard(name)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _check_new_name(self, name: Any, where: str, registry: dict) -> None:
        """Torch's rules for a new entry's name: a non-empty string without '.' that is not another attribute."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{where}: the name must be a non-empty string without '.', got {name!r}")
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"{where}: attribute {name!r} already exists (and is not one of its entries)")

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` as the submodule ``name`` (for names that are not identifiers, e.g. ``"0"``)."""
        where = f"{type(self).__name__}.add_module"
        if not isinstance(module, Module):
            raise TypeError(f"{where}: {name!r} must be a Module, got {type(module).__name__}")
        self._check_new_name(name, where, self._modules)
        setattr(self, name, module)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as a buffer: state of the module that is not a parameter (e.g. running means).

        It becomes the attribute ``name`` and is listed by ``buffers()``; a persistent one is also in
        ``state_dict()`` and loaded by ``load_state_dict()``. ``None`` registers a placeholder that is
        left out of both until a Tensor is assigned. Buffers are not in ``parameters()`` (so optimizers
        do not update them) and are cast by ``to(dtype)`` when they are floating point.
        """
        where = f"{type(self).__name__}.register_buffer"
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"{where}: cannot register a buffer before Module.__init__() is called")
        self._check_new_name(name, where, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"{where}: cannot register {type(tensor).__name__} as buffer {name!r} "
                            f"(a Tensor or None expected; wrap arrays in Tensor(...))")
        if isinstance(tensor, Parameter):
            raise TypeError(f"{where}: {name!r} is a Parameter; assign it as an attribute to register a parameter")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

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

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` for every parameter of the tree, each parameter once.

        Order: this module's own parameters in registration order, then each
        submodule's in turn (depth first). Changes nothing: a parameter's
        ``.name`` (its dotted name, for graph views) is set when its module is
        assigned to a parent.
        """
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter of the tree, each once, in ``named_parameters`` order."""
        for _, param in self.named_parameters():
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` for every buffer that is not None (persistent or not), each once.

        Order: this module's in registration order, then each submodule's (depth first);
        ``recurse=False``: this module's only.
        """
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        seen: set[int] = set()
        for module_name, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is not None and id(buffer) not in seen:
                    seen.add(id(buffer))
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer of the tree (``recurse=False``: of this module), in ``named_buffers`` order."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def _named_state(self) -> Iterator[tuple[str, Tensor]]:
        """What ``state_dict`` holds: per module (depth first) its parameters, then its persistent buffers.

        Shared parameters and buffers appear under each name they are reachable by.
        """
        for module_name, module in self.named_modules():
            dot = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                yield dot + name, param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers:
                    yield dot + name, buffer

    def num_parameters(self) -> int:
        """The total number of scalar parameters."""
        return sum(p.numel() for p in self.parameters())

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

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (``False`` freezes the module); returns self."""
        if not isinstance(requires_grad, bool):
            raise TypeError(f"{type(self).__name__}.requires_grad_: expected a bool, got {type(requires_grad).__name__}")
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def to(self, dtype: Any) -> Module:
        """Cast every parameter and every floating-point buffer to ``dtype`` (float32 or float64); returns self.

        The cast is in place: each Parameter (and buffer) object is kept and gets a new array
        (and its ``.grad``, if any, is cast too), so an optimizer built before still updates
        the module's parameters. State an optimizer already holds for them (e.g. Adam's moments)
        keeps its old dtype: build the optimizer after the cast. Only dtypes are accepted
        (there are no devices); integer buffers (counters) are left as they are.
        """
        where = f"{type(self).__name__}.to"
        try:
            target = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{where}: expected a dtype (np.float32 or np.float64), got {dtype!r}") from None
        if target not in FLOAT_DTYPES:
            raise TypeError(f"{where}: only float32 and float64 are supported, got {target}")
        tensors = [*self.parameters(), *(b for b in self.buffers() if b.dtype.kind == "f")]
        for tensor in tensors:
            if tensor.dtype != target:
                tensor.data = tensor.data.astype(target)
                if tensor.grad is not None:
                    tensor.grad.data = tensor.grad.data.astype(target)
        return self

    def double(self) -> Module:
        """``to(np.float64)``: parameters and floating-point buffers in float64, in place; returns self."""
        return self.to(np.float64)

    def float(self) -> Module:
        """``to(np.float32)``: parameters and floating-point buffers in float32, in place; returns self."""
        return self.to(np.float32)

    # ---- state --------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of the array of every parameter and persistent buffer, keyed by dotted name.

        A shared parameter appears under each of its names; buffers that are None are left out.
        """
        return {name: tensor.data.copy() for name, tensor in self._named_state()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays of ``state`` into the parameters and persistent buffers, in place.

        Everything is checked before anything is written, so a failed load
        leaves the module unchanged. With ``strict`` (the default) the keys
        must match exactly; with ``strict=False`` missing and unexpected keys
        are skipped and returned. Shapes and dtypes must always match.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{where}: expected a mapping of names to arrays, got {type(state).__name__}")
        own = dict(self._named_state())
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
