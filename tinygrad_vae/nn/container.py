"""Containers and reshaping modules, as in torch.nn: Sequential, ModuleList, ModuleDict, Flatten, Unflatten.

A container registers the modules it holds, so their parameters and buffers appear in
``parameters()``, ``state_dict()`` and ``repr`` under torch's dotted names
(``layers.0.weight`` for a ModuleList ``layers``; ``heads.mu.bias`` for a ModuleDict).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn.module import Module
from tinygrad_vae.validation import is_int


def _dim(value: Any, name: str, where: str) -> int:
    """An int (negative ones count from the end), or a TypeError naming ``where`` and ``name``."""
    if not is_int(value):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    return int(value)


def _index(container: Module, index: Any) -> int:
    """``index`` as a position in ``0 .. len - 1`` (negative ones count from the end)."""
    where = type(container).__name__
    if not is_int(index):
        raise TypeError(f"{where}: indices must be ints or slices, got {type(index).__name__}")
    size = len(container._modules)
    if not -size <= index < size:
        raise IndexError(f"{where}: index {index} is out of range for {size} modules")
    return operator.index(index) % size


class _Indexed(Module):
    """The modules of a Sequential or a ModuleList, named ``"0"``, ``"1"``, ... in order."""

    def _modules_as(self, modules: Iterable[Any]) -> None:
        """Register ``modules`` in place of the current ones, renumbered from 0 (as torch does after a deletion)."""
        modules = list(modules)
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"{type(self).__name__}: entry {i} must be a Module, got {type(module).__name__}")
        for name in list(self._modules):
            delattr(self, name)
        for i, module in enumerate(modules):
            setattr(self, str(i), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(modules[index]) if isinstance(self, ModuleList) else type(self)(*modules[index])
        return modules[_index(self, index)]

    def __setitem__(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules[_index(self, index)] = module
        self._modules_as(modules)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_index(self, index)]
        self._modules_as(modules)

    def append(self, module: Module) -> _Indexed:
        """Add ``module`` at the end; returns self."""
        self._modules_as([*self._modules.values(), module])
        return self

    def extend(self, modules: Iterable[Module]) -> _Indexed:
        """Add each of ``modules`` at the end; returns self."""
        if isinstance(modules, Module) and not isinstance(modules, _Indexed):
            raise TypeError(f"{type(self).__name__}.extend: expected an iterable of Modules, got {type(modules).__name__}")
        self._modules_as([*self._modules.values(), *modules])
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (as ``list.insert``)."""
        _dim(index, "index", f"{type(self).__name__}.insert")
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules_as(modules)

class Sequential(_Indexed):
    """Modules applied one after another; children are named ``"0"``, ``"1"``, ...

    Supports ``len``, iteration, ``seq[i]`` (negative too), ``seq[a:b]`` (a new Sequential
    sharing the same modules), item assignment and deletion, ``append``, ``extend``, ``insert``.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} must be a Module, got {type(module).__name__}")
        self._modules_as(modules)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_Indexed):
    """``torch.nn.ModuleList``: a list of modules, each registered (named ``"0"``, ``"1"``, ...).

    ``ModuleList(modules=None)``; supports ``len``, iteration, indexing (negative too), slicing (a
    new ModuleList sharing the modules), item assignment and deletion (the rest are renumbered),
    ``append``, ``extend``, ``insert``, ``+`` (a new ModuleList) and ``+=``. It has no
    ``forward``: call its modules in your own.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def __iadd__(self, other: Iterable[Module]) -> ModuleList:  # noqa: PYI034 -- returns self
        self.extend(other)
        return self

    def __repr__(self) -> str:
        """Torch's form: consecutive entries with the same repr collapse into ``(2-4): 3 x Linear(...)``."""
        reprs = [repr(module) for module in self]
        if not reprs:
            return f"{type(self).__name__}()"
        blocks: list[list[Any]] = []  # [first index, last index, repr]
        for i, text in enumerate(reprs):
            if blocks and blocks[-1][2] == text:
                blocks[-1][1] = i
            else:
                blocks.append([i, i, text])
        lines = []
        for first, last, text in blocks:
            label = f"({first})" if first == last else f"({first}-{last}): {last - first + 1} x"
            lines.append(f"  {label}{':' if first == last else ''} {text}".replace("\n", "\n  "))
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class ModuleDict(Module):
    """``torch.nn.ModuleDict``: modules by name, each registered under its key, in insertion order.

    ``ModuleDict(modules=None)`` takes a mapping or an iterable of ``(key, module)`` pairs. The
    mapping API: ``d[key]``, ``d[key] = m``, ``del d[key]``, ``in``, ``len``, iteration over keys,
    ``keys()``, ``values()``, ``items()``, ``update()``, ``pop()``, ``clear()``. Keys are non-empty
    strings without ``'.'`` that are not attributes of the ModuleDict (``"keys"`` is refused, as in
    torch). It has no ``forward``.
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module under {key!r} (keys: {list(self._modules)})")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        module = self[key]
        delattr(self, key)
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            del self[key]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping or from ``(key, module)`` pairs, in their order."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for i, pair in enumerate(pairs):
            if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update: element {i} should be a (key, module) pair, got {pair!r}")
            self[pair[0]] = pair[1]


class Flatten(Module):
    """``torch.nn.Flatten(start_dim=1, end_dim=-1)``: dims ``start_dim..end_dim`` merged into one (the batch kept)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = _dim(start_dim, "start_dim", "Flatten")
        self.end_dim = _dim(end_dim, "end_dim", "Flatten")

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """``torch.nn.Unflatten(dim, unflattened_size)``: dim ``dim`` split into dims of the given sizes."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim = _dim(dim, "dim", "Unflatten")
        sizes = tuple(unflattened_size) if isinstance(unflattened_size, Sequence) else None
        if not sizes or not all(is_int(size) and (size >= 1 or size == -1) for size in sizes):
            raise TypeError(f"Unflatten: unflattened_size must be a non-empty sequence of positive ints "
                            f"(one may be -1), got {unflattened_size!r}")
        self.unflattened_size = tuple(int(size) for size in sizes)

    def forward(self, input: Tensor) -> Tensor:
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
