"""The Gradio UI: one module per tab, widgets wired to package functions; no logic, no file I/O, no statistics."""
