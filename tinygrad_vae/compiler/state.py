"""Locations: where state that lives across steps is kept, and how a replay reads and writes it.

Each location is a ``Binding`` of the program (``read()``, ``write(value)``, a readable ``name``) and
knows the Python expression that reads or writes it in the generated code, where ``obj`` is the name
under which the generated function sees the object that holds it (a Tensor, a dict).
"""

from __future__ import annotations

from typing import Any

from tinygrad_vae.core.tensor import Tensor, wrap


class Location:
    """A place that holds a value across steps."""

    name: str
    input_id: int | None = None       # the program value read from here, if the step reads it
    initial: Any = None               # the value found here by the trace
    number_type: type | None = None   # int or float for a Python number written back here

    def holder(self) -> Any:
        """The object that the generated code reaches the location through."""
        raise NotImplementedError

    def holder_name(self) -> str:
        """A readable name for ``holder()`` in the generated code."""
        return self.name

    def read_expr(self, obj: str) -> str:
        raise NotImplementedError

    def write_stmt(self, obj: str, value: str) -> str:
        raise NotImplementedError

    def read(self) -> Any:
        raise NotImplementedError

    def write(self, value: Any) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class TensorSlot(Location):
    """A tensor's array (``.data``): a parameter, a buffer, a constant made before the step."""

    def __init__(self, tensor: Tensor, name: str) -> None:
        self.tensor, self.name = tensor, name

    def holder(self) -> Any:
        return self.tensor

    def read(self) -> Any:
        return self.tensor.data

    def write(self, value: Any) -> None:
        self.tensor.data = value

    def read_expr(self, obj: str) -> str:
        return f"{obj}.data"

    def write_stmt(self, obj: str, value: str) -> str:
        return f"{obj}.data = {value}"


class GradSlot(TensorSlot):
    """A tensor's gradient (``.grad``), written as a new Tensor each step as the engine does."""

    def holder_name(self) -> str:
        return self.name.removesuffix(".grad")

    def read(self) -> Any:
        return self.tensor.grad.data

    def write(self, value: Any) -> None:
        self.tensor.grad = wrap(value)

    def read_expr(self, obj: str) -> str:
        return f"{obj}.grad.data"

    def write_stmt(self, obj: str, value: str) -> str:
        return f"{obj}.grad = wrap({value})"

    def clear_stmt(self, obj: str) -> str:
        return f"{obj}.grad = None"


class DictItem(Location):
    """One entry of a dict declared with ``bind_state`` (an optimizer's buffer, counter or hyperparameter)."""

    def __init__(self, container: dict, key: Any, name: str, label: str) -> None:
        self.container, self.key, self.name, self.label = container, key, name, label

    def holder(self) -> Any:
        return self.container

    def holder_name(self) -> str:
        return self.label if self.label.endswith("state") else f"{self.label}.state"

    def read(self) -> Any:
        return self.container[self.key]

    def write(self, value: Any) -> None:
        self.container[self.key] = value if self.number_type is None else self.number_type(value)

    def read_expr(self, obj: str) -> str:
        return f"{obj}[{self.key!r}]"

    def write_stmt(self, obj: str, value: str) -> str:
        if self.number_type is not None:
            return f"{obj}[{self.key!r}] = {self.number_type.__name__}({value})"
        return f"{obj}[{self.key!r}] = {value}"


class Guard:
    """A condition under which a program no longer fits: ``condition`` names the holder ``{obj}`` and the
    traced value ``{expected}`` (``"len({obj}) != {expected}"``)."""

    def __init__(self, holder: Any, condition: str, expected: Any = None, name: str = "G") -> None:
        self.holder, self.condition, self.expected, self.name = holder, condition, expected, name

    def __repr__(self) -> str:
        return f"Guard({self.condition.format(obj='obj', expected=repr(self.expected))})"


def guard_item(container: dict, key: Any, value: Any, name: str) -> Guard:
    """The guard that a dict entry the trace used as a Python constant (a flag, a tuple of numbers, a list of
    parameters) is still the same."""
    item = f"{{obj}}[{key!r}]"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Tensor) for v in value):
        return Guard(container, f"tuple(map(id, {item})) != {{expected}}", tuple(map(id, value)), name)
    if value is None or isinstance(value, (bool, int, float, str, tuple)):
        return Guard(container, f"{item} != {{expected}}", value, name)
    return Guard(container, f"{item} is not {{expected}}", value, name)
