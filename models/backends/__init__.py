"""One module per backend; models/registry.py imports each on first use."""
