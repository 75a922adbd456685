"""Hypothesis settings shared by the fuzz tests: deterministic (the same examples on every run and machine, no
example database), a per-example deadline, and the time bound the long-input tests check against. The fast tier
(`-m "not model and not browser"`, tests/conftest.py) runs a quarter of each test's examples, the first ones of the
same derandomized sequence; the full suite, as CI runs it, runs them all."""
import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

# Generous on a loaded two-core CI machine; a quadratic parser misses it by orders of magnitude on the inputs here.
DEADLINE = timedelta(seconds=2)
LONG_INPUT_SECONDS = 2.0
FAST_TIER_SHARE_VARIABLE = "LLM_JUDGE_FUZZ_SHARE"  # set by tests/conftest.py for the fast tier


def fuzz(max_examples: int) -> settings:
    """Settings for one fuzz test: `max_examples` derandomized examples, each within DEADLINE."""
    share = float(os.environ.get(FAST_TIER_SHARE_VARIABLE) or 1.0)
    return settings(max_examples=max(25, round(max_examples * share)), deadline=DEADLINE, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
