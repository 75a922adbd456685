"""Evals as unit tests: suites of cases (evals/suite.py) run through the comparison pipeline, reported like pytest and
as JUnit XML, and the gate that fails a run worse than the last good one. Above runs/, beside lab/."""
