"""The base class of the optimizers: parameter groups, per-parameter state, state dicts (PyTorch's layout).

``Optimizer(params, defaults)`` takes an iterable of Tensors, or of dicts
(parameter groups) ``{"params": [...], "lr": ..., ...}``; every hyperparameter
a group leaves out comes from ``defaults``. ``param_groups`` is the list of
those dicts, each with every hyperparameter: ``opt.param_groups[0]["lr"] = 1e-4``
changes the rate from the next step on, and the learning-rate schedulers
work that way.

``state`` maps each parameter (the Tensor) to its dict of buffers; a
parameter's entry appears at its first update. Step counters are 0-d float64
arrays updated in place, so that everything that changes from one step to the
next lives in NumPy arrays.

``step()`` is one loop over the groups and their parameters that calls the
subclass's ``_update(param, grad, state, group)`` for each parameter with a
gradient. The update is plain NumPy (no graph): it changes ``param.data`` and
the state's buffers in place. Gradients are treated as read-only: they may
share memory with other tensors of the graph, so an update builds new arrays
or writes into the optimizer's own buffers, never into a ``.grad``.

``state_dict()`` is PyTorch's format, ``{"state": {index: {...}}, "param_groups":
[{..., "params": [indices]}]}``, with parameters numbered through the groups
in order; it holds copies, so it can be kept or saved with
``serialization.save`` while training goes on. ``load_state_dict`` restores it
(after a save/load round trip too, where the indices come back as strings), and
training continues bit-identically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from tinygrad_vae.core.dtypes import FLOAT_DTYPES
from tinygrad_vae.core.grad_mode import enable_grad
from tinygrad_vae.core.tensor import Tensor

ParamState = dict[str, Any]
ParamGroup = dict[str, Any]
Params = Iterable[Tensor] | Iterable[Mapping[str, Any]]
# The keys of the optimizer states this library wrote before parameter groups.
_OLD_FORMAT_KEYS = {"type", "step_count", "hyperparameters", "state"}


def check_range(where: str, name: str, value: float, low: float, high: float = math.inf) -> None:
    """Raise a ValueError unless ``low <= value < high``."""
    if not low <= value < high:
        bound = f"[{low}, {high})" if high != math.inf else f">= {low}"
        raise ValueError(f"{where}: {name} must be {bound}, got {value!r}")


def check_betas(where: str, betas: Any) -> None:
    """``betas`` must be a pair of numbers in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
    check_range(where, "betas[0]", betas[0], 0.0, 1.0)
    check_range(where, "betas[1]", betas[1], 0.0, 1.0)


def new_step_counter() -> np.ndarray:
    """A parameter's step count: a 0-d float64 array, incremented in place (as torch keeps a tensor)."""
    return np.zeros((), dtype=np.float64)


def as_scalar(value: Any, like: np.ndarray) -> np.ndarray:
    """``value`` as a 0-d array of ``like``'s dtype, so that a float64 factor keeps a float32 update float32."""
    return np.asarray(value, dtype=like.dtype)


class ParamStates(MutableMapping):
    """``states[param]`` -> that parameter's state dict, created empty on first access (torch's defaultdict(dict)).

    Keyed by identity: a Tensor is unhashable, since its ``==`` is elementwise.
    Each entry keeps its Tensor, so an id cannot be reused while it is here.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Tensor, ParamState]] = {}

    def __getitem__(self, param: Tensor) -> ParamState:
        entry = self._entries.get(id(param))
        if entry is None:
            if not isinstance(param, Tensor):
                raise KeyError(f"Optimizer.state is keyed by the parameters (Tensors), not by {type(param).__name__} "
                               f"{param!r}; state_dict() numbers them")
            entry = self._entries[id(param)] = (param, {})
        return entry[1]

    def __setitem__(self, param: Tensor, state: ParamState) -> None:
        self._entries[id(param)] = (param, state)

    def __delitem__(self, param: Tensor) -> None:
        del self._entries[id(param)]

    def __contains__(self, param: object) -> bool:
        return id(param) in self._entries

    def __iter__(self) -> Iterator[Tensor]:
        return (param for param, _ in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


class Optimizer:
    """Base class: the parameter groups, the per-parameter state and the step loop.

    A subclass passes its hyperparameters' defaults to ``__init__``, checks a
    group's values in ``_check_group(group, where)`` and implements
    ``_update(param, grad, state, group)``, which changes ``param.data`` in
    place given the gradient array, the parameter's state dict (empty on its
    first update) and its group's hyperparameters (read at every step).
    """

    def __init__(self, params: Params, defaults: Mapping[str, Any]) -> None:
        where = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{where}: params must be an iterable of Tensors (e.g. model.parameters()) or of dicts, "
                            f"got a single Tensor")
        self.defaults = dict(defaults)
        self.state = ParamStates()
        self.param_groups: list[ParamGroup] = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{where}: got an empty parameter list")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group ``{"params": ..., hyperparameter: value, ...}``; what it leaves out comes from ``defaults``.

        A parameter may belong to one group only, and must be a float leaf Tensor.
        Frozen parameters (``requires_grad`` False) are accepted, as in PyTorch:
        their grad stays None, so ``step`` skips them.
        """
        index = len(self.param_groups)
        where = type(self).__name__ + (f" param group {index}" if index else "")
        if not isinstance(param_group, Mapping):
            raise TypeError(f"{where}: a param group must be a dict with a 'params' key, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise KeyError(f"{where}: a param group must have a 'params' key, got keys {sorted(param_group)}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{where}: got an empty parameter list")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{where}: parameter {i} must be a Tensor, got {type(p).__name__}")
            if p.dtype not in FLOAT_DTYPES or not p.is_leaf:
                raise ValueError(
                    f"{where}: parameter {i} (shape {p.shape}, dtype {p.dtype}) must be a float32/float64 leaf Tensor, "
                    f"not an integer tensor or the result of an op"
                )
            if id(p) in seen:
                raise ValueError(f"{where}: parameter {i} (shape {p.shape}) appears more than once in params")
            if id(p) in taken:
                raise ValueError(f"{where}: parameter {i} (shape {p.shape}) is already in another param group")
            seen.add(id(p))
        group = {**self.defaults, **param_group, "params": params}
        self._check_group(group, where)
        self.param_groups.append(group)

    def _check_group(self, group: ParamGroup, where: str) -> None:
        """Raise a ValueError naming ``where`` if a hyperparameter of ``group`` is out of range."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Set every parameter's ``.grad`` to None, or (``set_to_none=False``) to a new Tensor of zeros.

        The zeros are a new array, not written into the old gradient, which may be shared with the graph.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else Tensor(np.zeros_like(p.grad.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s loss if a closure is given.

        The closure (which should zero the grads, compute the loss and call backward) runs first,
        with the graph recorded even inside ``no_grad``.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        states, entries = self.state, self.state._entries  # the lookup inlined: it runs for every parameter
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    entry = entries.get(id(p))
                    self._update(p, p.grad.data, states[p] if entry is None else entry[1], group)
        return loss

    def _update(self, param: Tensor, grad: np.ndarray, state: ParamState, group: ParamGroup) -> None:
        raise NotImplementedError(
            f"{type(self).__name__}: subclasses of Optimizer must implement _update(param, grad, state, group)"
        )

    # ---- state dicts ----------------------------------------------------------------------
    def _all_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: buffers}, "param_groups": [{hyperparameters..., "params": [indices]}]}``.

        Parameters are numbered through the groups in order; ``state`` has an
        entry for each parameter whose state holds something. Arrays are copies.
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in buffers.items()}
            for p, buffers in self.state.items()
            if buffers  # plain SGD keeps nothing, and torch then has no entry
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned (possibly after a save/load round trip).

        Checks everything before changing anything: the number of groups and of
        parameters in each, the hyperparameters of each group (all of this
        optimizer's must be there and in range; the saved values replace them), the
        parameter indices, and each buffer's shape and dtype against its
        parameter. A state saved before this library had parameter groups
        (keys ``type``, ``step_count``, ``hyperparameters``, ``state``) is
        converted: one group, step counts as 0-d float64 arrays.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if set(state_dict) == _OLD_FORMAT_KEYS:
            state_dict = self._convert_old_format(state_dict, where)
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError(f"{where}: missing key {key!r} (expected the output of Optimizer.state_dict())")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: the state has {len(saved_groups)} param groups, this optimizer has "
                             f"{len(self.param_groups)}")
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            missing = set(group) - set(saved)
            if missing:
                raise KeyError(f"{where}: param group {i} of the state lacks the keys {sorted(missing)} (it has "
                               f"{sorted(saved)})")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{where}: param group {i} of the state has {len(saved['params'])} parameters, this "
                                 f"optimizer's has {len(group['params'])}")
            # Keys of the saved group only (a scheduler's "initial_lr") are kept, as in torch.
            new_group = {key: _restored(value) for key, value in saved.items() if key != "params"}
            new_group["params"] = group["params"]
            self._check_group(new_group, f"{where}: param group {i}")
            new_groups.append(new_group)
        by_index = {int(saved_index): p for saved, group in zip(saved_groups, self.param_groups)
                    for saved_index, p in zip(saved["params"], group["params"])}
        new_state = ParamStates()
        for index, buffers in state_dict["state"].items():
            if int(index) not in by_index:
                raise ValueError(f"{where}: state for parameter {index}, but the optimizer's param groups hold the "
                                 f"parameters {sorted(by_index)}")
            p = by_index[int(index)]
            new_state[p] = {name: _restored_buffer(value, name, p, f"{where}: buffer {name!r} of parameter {index}")
                            for name, value in buffers.items()}
        self.state = new_state
        for group, new_group in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new_group)

    def _convert_old_format(self, old: Mapping[str, Any], where: str) -> dict[str, Any]:
        """``{"type", "step_count", "hyperparameters", "state": {"0": ...}}`` (one group) in today's format."""
        if str(old["type"]) != type(self).__name__:
            raise ValueError(f"{where}: this state is from a {old['type']} optimizer, not a {type(self).__name__}")
        if len(self.param_groups) != 1:
            raise ValueError(f"{where}: a state from before parameter groups fits an optimizer with one param group, "
                             f"this one has {len(self.param_groups)}")
        group = {key: value for key, value in self.param_groups[0].items() if key != "params"}
        group.update(old["hyperparameters"])
        group["params"] = list(range(len(self.param_groups[0]["params"])))
        state = {index: {name: np.asarray(value, dtype=np.float64) if name == "step" else value
                         for name, value in buffers.items()} for index, buffers in old["state"].items()}
        return {"state": state, "param_groups": [group]}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value!r}" for key, value in sorted(group.items()) if key != "params"]
        return "\n".join([*lines, ")"])


def _restored(saved: Any) -> Any:
    """A hyperparameter as loaded: a pair (betas) comes back from a file as a list, a NumPy number as a 0-d array."""
    if isinstance(saved, (list, tuple)):
        return tuple(saved)
    if isinstance(saved, np.ndarray) and saved.ndim == 0:
        return saved.item()
    return saved


def _restored_buffer(value: Any, name: str, param: Tensor, where: str) -> Any:
    """A copy of one state entry, checked against its parameter (step counters: 0-d float64 arrays)."""
    if name == "step":
        return np.array(value, dtype=np.float64)
    if isinstance(value, np.ndarray):
        if value.shape != param.shape or value.dtype != param.dtype:
            raise ValueError(f"{where} has shape {value.shape} and dtype {value.dtype}; expected shape "
                             f"{param.shape} and dtype {param.dtype} like the parameter")
        return value.copy()
    return value
