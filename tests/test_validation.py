"""The shared argument checks: what they accept, and the messages of what they refuse."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_vae.validation import check_generator, check_int, is_int


def test_is_int_takes_python_and_numpy_ints_but_not_bools_or_floats() -> None:
    assert is_int(3) and is_int(np.int64(3))
    assert not is_int(True) and not is_int(3.0) and not is_int("3")


def test_check_int_returns_a_python_int() -> None:
    value = check_int(np.int32(4), "batch_size", "Trainer")
    assert value == 4 and type(value) is int
    assert check_int(0, "epochs", "fit", low=0) == 0
    assert check_int(None, "log_every", "fit", allow_none=True) is None


@pytest.mark.parametrize(
    ("value", "low", "allow_none", "message"),
    [
        (0, 1, False, "Trainer: batch_size must be a positive int, got 0"),
        (True, 1, False, "Trainer: batch_size must be a positive int, got True"),
        (-1, 0, False, "Trainer: batch_size must be a non-negative int, got -1"),
        (1, 2, False, "Trainer: batch_size must be an int >= 2, got 1"),
        (2.5, 1, True, "Trainer: batch_size must be a positive int or None, got 2.5"),
        (None, 1, False, "Trainer: batch_size must be a positive int, got None"),
    ],
)
def test_check_int_names_the_caller_the_argument_and_the_value(
    value: object, low: int, allow_none: bool, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message.replace('(', '[(]')}$"):
        check_int(value, "batch_size", "Trainer", low=low, allow_none=allow_none)


def test_check_generator_passes_a_generator_and_makes_one_for_none() -> None:
    rng = np.random.default_rng(0)
    assert check_generator(rng, "f") is rng
    assert isinstance(check_generator(None, "f"), np.random.Generator)
    with pytest.raises(TypeError, match="^f: rng must be a numpy.random.Generator or None, got RandomState$"):
        check_generator(np.random.RandomState(0), "f")
