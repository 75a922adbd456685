"""Deep links read from the page's address: ?run=NAME opens a run's headline numbers in a banner at the top of the
page (?battle=ID is the Arena tab's own, in ui/arena_tab.py)."""
from __future__ import annotations

import gradio as gr

from arena.views import linked_run
from basics import UserFacingError
from dashboard.summary_text import summary_markdown
from runs.views import as_text


def run_banner(request: gr.Request) -> gr.Markdown:
    """The linked run's summary, shown above the tabs; hidden when the address names no run."""
    name = (request.query_params.get("run") if request else None) or ""
    if not name:
        return gr.Markdown(visible=False)
    try:
        run = linked_run(name)
    except UserFacingError as exc:
        return gr.Markdown(f"**Link:** {as_text(exc)}", visible=True)
    return gr.Markdown(f"#### Linked run `{as_text(run.folder.name)}`\n{summary_markdown(run)}\n\nThe **Results** tab "
                       "shows its charts, records and exports: pick it there.", visible=True)
