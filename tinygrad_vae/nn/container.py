"""``Sequential``: modules applied one after another."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tinygrad_vae.nn.module import Module


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
