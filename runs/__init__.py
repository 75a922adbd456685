"""A comparison run on disk: its config, the pipeline (run, resume), typed records, the store, the summary, prompt
sets, people's votes, and the `python -m judge` CLI."""
