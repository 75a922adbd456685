"""Hypothesis settings shared by the fuzz tests: deterministic (the same examples on every run and machine, no
example database), a per-example deadline, and the time bound the long-input tests check against."""
from datetime import timedelta

from hypothesis import HealthCheck, settings

# Generous on a loaded two-core CI machine; a quadratic parser misses it by orders of magnitude on the inputs here.
DEADLINE = timedelta(seconds=2)
LONG_INPUT_SECONDS = 2.0


def fuzz(max_examples: int) -> settings:
    """Settings for one fuzz test: `max_examples` derandomized examples, each within DEADLINE."""
    return settings(max_examples=max_examples, deadline=DEADLINE, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
