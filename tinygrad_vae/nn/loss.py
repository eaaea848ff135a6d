"""Loss modules over the ``nn.functional`` losses (``nn/losses.py``), with torch's constructor arguments.

Each module stores its options and calls the function of its name in ``forward(input, target)``
(``GaussianNLLLoss``: ``forward(input, target, var)``). Class weights (``weight``) and
``pos_weight`` are buffers, as in torch, so they appear in the state_dict.

As the functional forms, the modules do not take torch's deprecated ``size_average`` and
``reduce``; the arguments torch places after them are keyword-only, so that a positional
argument cannot silently mean something else here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_vae.core.tensor import Tensor
from tinygrad_vae.nn import losses
from tinygrad_vae.nn.module import Module


def _as_buffer(value: Any) -> Tensor | None:
    """A weight as a Tensor to register as a buffer (None stays None)."""
    if value is None or isinstance(value, Tensor):
        return value
    return Tensor(np.asarray(value))


class _Loss(Module):
    """The shared part: ``reduction``, checked when the module is built."""

    reductions: tuple[str, ...] = losses.REDUCTIONS

    def __init__(self, reduction: str) -> None:
        super().__init__()
        losses._check_reduction(reduction, type(self).__name__, self.reductions)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with per-class (or per-element) ``weight``, kept as a buffer."""

    def __init__(self, weight: Any, reduction: str) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(weight))


class MSELoss(_Loss):
    """(input - target)^2, reduced. ``MSELoss(*, reduction="mean")``."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """|input - target|, reduced. ``L1Loss(*, reduction="mean")``."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.l1_loss(input, target, reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices given log-probabilities.

    ``NLLLoss(weight=None, *, ignore_index=-100, reduction="mean")``.
    """

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits against class indices or class probabilities.

    ``CrossEntropyLoss(weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0)``.
    """

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                    reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities. ``BCELoss(weight=None, *, reduction="mean")``."""

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy of logits (sigmoid inside, stable).

    ``BCEWithLogitsLoss(weight=None, *, reduction="mean", pos_weight=None)``; ``pos_weight`` is a buffer too.
    """

    def __init__(self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _as_buffer(pos_weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                       pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """KL(target || exp(input)) pointwise, for log-probabilities ``input``.

    ``KLDivLoss(*, reduction="mean", log_target=False)``; ``reduction="batchmean"`` gives the KL
    divergence per example (torch's "mean" divides by the number of elements).
    """

    reductions = losses.REDUCTIONS + ("batchmean",)

    def __init__(self, *, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return losses.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class GaussianNLLLoss(_Loss):
    """Negative log-likelihood of ``target`` under N(input, var).

    ``GaussianNLLLoss(*, full=False, eps=1e-6, reduction="mean")``; ``forward(input, target, var)``.
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Any, var: Any) -> Tensor:
        return losses.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)
