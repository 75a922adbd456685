"""Widgets more than one tab uses: the model pickers, and the refresh of their choices."""
from __future__ import annotations

import gradio as gr
from gradio.utils import get_upload_folder

from runs.config import DEFAULT_LONG_PROMPTS, LONG_PROMPTS
from runs.public import hide_server_paths, offered_answering_models, offered_models, public_gate
from runs.system_prompts import MAX_SYSTEM_CHARS

PRIVATE = dict(api_visibility="private")  # page-only events: not part of the app's API
# For the API's events whose inputs are plain values (text, numbers, true/false, lists of text): the handler gets
# them as sent and checks them itself (ui/inputs.py), so a wrong type, null or NaN gets a message naming the field;
# Gradio's own conversion would fail on them first with a bare "Error" and a traceback in the log.
AS_SENT = dict(preprocess=False)


PICKER_HELP = ("BASE or BASE+ADAPTER: an embedded alias, a hub id (org/name, org/name:Q4_K_M, org/name/FILE.gguf), "
               "a local folder or .gguf file; a served model as openai:MODEL@http://host:8000/v1")


def model_picker(label: str, value: str, elem_id: str | None = None, extra: tuple[str, ...] = (),
                 info: bool = True, answering: bool = False) -> gr.Dropdown:
    """`extra`: specs offered besides the usual ones (an example's models: an example shows a dropdown's value only
    when it is one of its choices). `info=False`: no help under the label (a row of pickers has picker_help once).
    `answering`: a Model A / B picker, which does not offer the scoring judges (they write no answers)."""
    offered = offered_answering_models() if answering else offered_models()
    return gr.Dropdown(
        # Typed values are taken even on a shared app: the allow-list (runs/public.py) refuses them with its own
        # message, by their text alone; Gradio's choice check would log a traceback for every refusal.
        choices=[*offered, *(s for s in extra if s not in offered)], value=value, label=label, allow_custom_value=True,
        elem_id=elem_id or "picker-" + label.lower().replace(" ", "-"), info=PICKER_HELP if info else None,
    )


def picker_help(elem_id: str) -> gr.Markdown:
    """The pickers' help, once under their row, in the size of a widget's help (ui/app.css .help-line)."""
    return gr.Markdown("Model specs: `BASE` or `BASE+ADAPTER`: an embedded alias, a hub id (`org/name`, "
                       "`org/name:Q4_K_M`, `org/name/FILE.gguf`), a local folder or `.gguf` file; a served model as "
                       "`openai:MODEL@http://host:8000/v1`", elem_id=elem_id, elem_classes="help-line")


def panel_picker(elem_id: str) -> gr.Dropdown:
    """More judges: with the judge picker's, a panel (majority verdict or mean scores, with their agreement)."""
    return gr.Dropdown(choices=offered_models(), value=[], multiselect=True, allow_custom_value=True,
                       label="More judges (a panel)", elem_id=elem_id,
                       info="each judge's verdict is kept; the panel's is the majority (pairwise) or the mean score")


def base_url_box(elem_id: str) -> gr.Textbox:
    # Hidden on a shared app: a visitor must not make the server fetch URLs of their choosing.
    return gr.Textbox(value="", label="Base URL for openai:MODEL specs that name none", elem_id=elem_id,
                      visible=public_gate() is None,
                      placeholder="http://127.0.0.1:8000/v1 (else $LLM_JUDGE_BASE_URL); the key: $LLM_JUDGE_API_KEY")


def refreshed_pickers(n: int = 3) -> list[gr.Dropdown]:
    """New adapters (e.g. just trained) appear in the pickers: Model A and B (all but the last), then the judge."""
    answering = offered_answering_models()
    return [*(gr.Dropdown(choices=answering) for _ in range(n - 1)), gr.Dropdown(choices=offered_models())]


def cache_box(elem_id: str) -> gr.Checkbox:
    return gr.Checkbox(value=True, label="Reuse identical judge calls (on-disk cache)", elem_id=elem_id,
                       info="same judge, template, inputs and settings: answered from the cache, at no cost")


def visitor(request: gr.Request | None) -> str | None:
    """Who sent a request, for the per-visitor limit of a shared app: the browser session."""
    return getattr(request, "session_hash", None)


def longest_answer() -> int:
    """The max-new-tokens sliders' top: a shared app's limit, else 1024."""
    gate = public_gate()
    return gate.policy.limits.max_new_tokens if gate else 1024


def long_prompts_choice(elem_id: str) -> gr.Radio:
    return gr.Radio(list(LONG_PROMPTS), value=DEFAULT_LONG_PROMPTS, label="A prompt longer than a model's context",
                    elem_id=elem_id, info="refuse: stop before anything runs · truncate: cut it to fit, with a notice")


def system_prompt_boxes(prefix: str = "") -> tuple[gr.Textbox, gr.Textbox]:
    """Model A's and Model B's system prompts (the same text in both: a shared one), in a closed accordion."""
    gate = public_gate()
    with gr.Accordion("System prompt", open=False, elem_id=f"{prefix}system-settings"):
        with gr.Row():
            boxes = tuple(gr.Textbox(  # an initial value makes it optional for API clients
                value="", label=f"Model {side}", lines=2, elem_id=f"{prefix}system-{side.lower()}",
                max_length=gate.policy.limits.prompt_chars if gate else MAX_SYSTEM_CHARS,
                placeholder="none: the model's chat template decides (a fine-tune gets the one it was trained with)",
                info="sent before every prompt, never to the judge; a prompt set's own `system` wins",
            ) for side in ("A", "B"))
    return boxes


def user_error(message: object) -> gr.Error:
    """An error for the person at the page (a bad input, a refused request): expected, so it leaves no traceback
    in the server's log; an unexpected exception still does."""
    # A shared app names its folders short: the message says what went wrong, not where the server keeps things.
    return gr.Error(hide_server_paths(str(message), get_upload_folder()), print_exception=False)
