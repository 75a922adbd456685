"""Widgets more than one tab uses: the model pickers, and the refresh of their choices."""
from __future__ import annotations

import gradio as gr

from models import known_model_specs

PRIVATE = dict(api_visibility="private")  # page-only events: not part of the app's API


def model_picker(label: str, value: str, elem_id: str | None = None) -> gr.Dropdown:
    return gr.Dropdown(
        choices=known_model_specs(), value=value, label=label, allow_custom_value=True,
        elem_id=elem_id or "picker-" + label.lower().replace(" ", "-"),
        info="BASE or BASE+ADAPTER: an embedded alias, hub id, local folder or .gguf file",
    )


def refreshed_pickers(n: int = 3) -> list[gr.Dropdown]:
    """New adapters (e.g. just trained) appear in the pickers."""
    choices = known_model_specs()
    return [gr.Dropdown(choices=choices) for _ in range(n)]
