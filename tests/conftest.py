"""Hypothesis profiles, and the fixtures several test files share.

- 'default': 25 examples per property, so the suite runs in about a minute on 2 cores;
  new random examples on every local run.
- 'ci': the same, derandomized (a fixed example sequence), chosen automatically when
  the CI environment variable is set, so a CI verdict is reproducible.
- 'thorough': 500 examples per property, for a long hunt.

HYPOTHESIS_PROFILE=<name> picks one explicitly.
"""

import os
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", settings.get_profile("default"), derandomize=True)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))


@pytest.fixture
def warnings_are_errors() -> Iterator[None]:
    """NumPy warnings raise: an overflow RuntimeWarning would mean an unstable formula."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
