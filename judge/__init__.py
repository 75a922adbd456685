"""Judging one item: templates and their rubric, output formats, strict reply parsing, single and pairwise judging
with position swap. It writes no files; runs/ saves what it returns. `python -m judge` is the CLI (runs/cli.py,
with lab/cli.py's validate and distill)."""
