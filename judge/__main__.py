"""Entry point for `python -m judge`: the comparison CLI lives in runs/cli.py, above the judge it drives."""
import sys

from runs.cli import main

if __name__ == "__main__":
    sys.exit(main())
