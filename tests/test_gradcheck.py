"""The gradient checker can fail: deliberately wrong rules must be caught, and reported usefully.

A checker that always passes would make every other gradient test in this
project worthless, so each kind of mistake a rule can make is planted here
in a ``Function`` subclass: a wrong sign, a missing factor, a mistake at one
element only, a wrong unbroadcast, and (for ``gradgradcheck``) a rule that
is right to first order but built from constants, so it cannot be
differentiated again.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given

from tinygrad_vae import GradcheckError, Tensor, gradcheck, gradgradcheck
from tinygrad_vae.core import Function
from tinygrad_vae.ops import unbroadcast
from tinygrad_vae.testing import away_from_zero, shapes

# "... analytical -1.0 vs numerical 0.99999... (difference ..."
REPORTED = re.compile(r"analytical (\S+) vs numerical (\S+) \(difference")


def reported_values(error: pytest.ExceptionInfo) -> tuple[float, float]:
    """The analytical and numerical values a GradcheckError message states."""
    match = REPORTED.search(str(error.value))
    assert match, f"no values in the message: {error.value}"
    return float(match.group(1)), float(match.group(2))


# --------------------------------------------------------------------------
# rules: right ones (the checker must pass them) and planted mistakes
# --------------------------------------------------------------------------


class Exp(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return np.exp(a)

    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        return (grad * out,)


class ExpWrongSign(Exp):
    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        return (-(grad * out),)


class Square(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return a * a

    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        return (grad * a * 2.0,)


class SquareMissingFactor(Square):
    """d(x^2) = 2x, written as x."""

    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        return (grad * a,)


class SquareFrozenSlope(Square):
    """The right first derivative 2x, but as a constant array: its own derivative comes out 0, not 2."""

    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        return (grad * (2.0 * np.asarray(a)),)  # np.asarray: the values, as a constant


class ExpFrozenOutput(Exp):
    """exp's rule grad * exp(x) with exp(x) frozen into a constant."""

    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        return (grad * np.asarray(out),)


class TripleWrongAtElementTwo(Function):
    """3x, whose rule says 3.5 for element 2 of a 1-D input and 3 elsewhere."""

    def forward(self, a: np.ndarray) -> np.ndarray:
        return 3.0 * a

    def backward(self, grad: Tensor, out: Tensor, a: Tensor) -> tuple[Tensor | None, ...]:
        slope = np.full(a.shape, 3.0)
        slope[2] = 3.5
        return (grad * slope,)


class MulWrongForSecondInput(Function):
    """a * b with d/db given as a + b instead of a."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, grad: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        return grad * b, grad * (a + b)


class AddForgetsUnbroadcast(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, grad: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        return grad, grad


class AddAveragesInsteadOfSumming(Function):
    """Unbroadcasts b's gradient with a mean over the broadcast axis: the right shape, the wrong values."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, grad: Tensor, out: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor | None, ...]:
        return unbroadcast(grad, a.shape), grad.mean(axis=0)


X = np.array([0.5, -1.0, 2.0])


# --------------------------------------------------------------------------
# gradcheck
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fast_mode", [False, True])
def test_correct_rules_pass(fast_mode: bool) -> None:
    assert gradcheck(Exp.apply, [X], fast_mode=fast_mode)
    assert gradcheck(Square.apply, [X], fast_mode=fast_mode)
    assert gradgradcheck(Exp.apply, [X], fast_mode=fast_mode)
    assert gradgradcheck(Square.apply, [X], fast_mode=fast_mode)


def test_wrong_sign_is_reported_with_input_element_and_both_values() -> None:
    x = np.array([[0.0, 1.0]])
    with pytest.raises(GradcheckError) as error:
        gradcheck(ExpWrongSign.apply, [x])
    assert "input 0 (shape (1, 2)) element (0, 0), output element (0, 0)" in str(error.value)
    analytical, numerical = reported_values(error)
    assert analytical == -1.0  # -exp(0), the rule's claim
    assert numerical == pytest.approx(1.0, abs=1e-8)  # exp'(0), measured


def test_missing_factor_is_caught() -> None:
    with pytest.raises(GradcheckError) as error:
        gradcheck(SquareMissingFactor.apply, [X])
    analytical, numerical = reported_values(error)
    assert (analytical, numerical) == (pytest.approx(0.5), pytest.approx(1.0, abs=1e-8))  # x vs 2x at x = 0.5


@given(away_from_zero(shapes(max_dims=2, max_side=3), margin=0.1))
def test_missing_factor_is_caught_wherever_it_shows(x: np.ndarray) -> None:
    """|x| >= 0.1, so x and 2x differ by far more than the tolerance."""
    with pytest.raises(GradcheckError):
        gradcheck(SquareMissingFactor.apply, [x])


def test_a_mistake_at_one_element_is_located() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(4,\)\) element \(2,\), output element \(2,\)") as error:
        gradcheck(TripleWrongAtElementTwo.apply, [x])
    assert reported_values(error) == (3.5, pytest.approx(3.0, abs=1e-8))


def test_the_wrong_input_is_named() -> None:
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(2,\)\) element \(0,\), output element \(0,\)") as error:
        gradcheck(MulWrongForSecondInput.apply, [a, b])
    assert reported_values(error) == (4.0, pytest.approx(1.0, abs=1e-8))  # a + b vs a


def test_a_rule_that_forgets_unbroadcast_fails_with_the_shapes() -> None:
    a, b = np.ones((2, 3)), np.array([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"AddForgetsUnbroadcast\.backward returned a gradient of shape \(2, 3\) "
                                           r"for an input of shape \(3,\)"):
        gradcheck(AddForgetsUnbroadcast.apply, [a, b])


def test_a_wrong_unbroadcast_is_caught() -> None:
    a, b = np.ones((2, 3)), np.array([1.0, 2.0, 3.0])
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \(3,\)\)") as error:
        gradcheck(AddAveragesInsteadOfSumming.apply, [a, b])
    # b[0] feeds two outputs: the rule gives 1/2 for each, differences give 1.
    assert reported_values(error) == (0.5, pytest.approx(1.0, abs=1e-8))


def test_fast_mode_catches_a_wrong_rule() -> None:
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\), random projection v\^T J u"):
        gradcheck(ExpWrongSign.apply, [X], fast_mode=True)
    with pytest.raises(GradcheckError):
        gradcheck(SquareMissingFactor.apply, [X], fast_mode=True, rng=np.random.default_rng(7))


def test_fast_mode_is_reproducible_with_a_seeded_rng() -> None:
    messages = []
    for _ in range(2):
        with pytest.raises(GradcheckError) as error:
            gradcheck(ExpWrongSign.apply, [X], fast_mode=True, rng=np.random.default_rng(3))
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_inputs_are_not_modified() -> None:
    x = X.copy()
    t = Tensor(X.copy())
    gradcheck(lambda a, b: a * b.exp(), [x, t])
    np.testing.assert_array_equal(x, X)
    np.testing.assert_array_equal(t.data, X)
    assert t.grad is None and not t.requires_grad


@pytest.mark.parametrize("checker", [gradcheck, gradgradcheck])
def test_float32_inputs_are_rejected(checker: object) -> None:
    with pytest.raises(TypeError, match=r"gradcheck: input 1 has dtype float32; finite differences need float64"):
        checker(lambda a, b: a * b, [X, X.astype(np.float32)])
    with pytest.raises(TypeError, match=r"input 0 has dtype float32"):
        checker(lambda a: a.exp(), [Tensor(X.astype(np.float32))])


def test_integer_inputs_are_rejected() -> None:
    with pytest.raises(TypeError, match=r"input 0 has dtype int64; finite differences need float64"):
        gradcheck(lambda a: a * 2.0, [np.array([1, 2])])


# --------------------------------------------------------------------------
# gradgradcheck: first derivatives right, second derivatives wrong
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [SquareFrozenSlope, ExpFrozenOutput])
def test_gradgradcheck_catches_a_rule_built_from_constants(rule: type[Function]) -> None:
    assert gradcheck(rule.apply, [X])  # the first derivative is right...
    with pytest.raises(GradcheckError) as error:
        gradgradcheck(rule.apply, [X])  # ...but the rule cannot be differentiated again
    analytical, numerical = reported_values(error)
    assert analytical == 0.0 and abs(numerical) > 0.1


@pytest.mark.parametrize("rule", [SquareFrozenSlope, ExpFrozenOutput])
def test_gradgradcheck_fast_mode_catches_it_too(rule: type[Function]) -> None:
    with pytest.raises(GradcheckError, match="random projection"):
        gradgradcheck(rule.apply, [X], fast_mode=True)
