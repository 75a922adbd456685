"""Entry point for `python -m judge`: the comparison CLI lives in runs/cli.py, above the judge it drives; the judge
lab's `validate` and `distill` (lab/cli.py) and the evals' `test` and `--gate` (evals/cli.py) are wired in here, since
runs/ sits below them."""
import sys

from evals.cli import EVAL_COMMANDS
from lab.cli import LAB_COMMANDS
from runs.cli import main

if __name__ == "__main__":
    sys.exit(main(more_commands=(*LAB_COMMANDS, *EVAL_COMMANDS)))
