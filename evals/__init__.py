"""Evals as unit tests: suites of cases (evals/suite.py) run through the comparison pipeline, reported like pytest and
as JUnit XML, the gate that fails a run worse than the last good one, and checkpoint sweeps (every checkpoint of a
training run judged against a baseline and ranked). Above runs/, beside lab/."""
