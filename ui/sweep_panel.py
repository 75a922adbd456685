"""The "Compare checkpoints" panel (Training and Batch tabs): a checkpoint sweep (evals/sweep.py) from the page, its
progress while models answer, then the best checkpoint in words, the table and the chart against the training step."""
from __future__ import annotations

import gradio as gr

from basics import UserFacingError
from dashboard.sweep_view import sweep_markdown
from evals.sweep import SweepConfig, SweepResult, sweep_updates
from evals.sweep_report import sweep_figure, write_summary
from finetune import progress_view as pv
from finetune.config import FIELDS
from models import DEFAULT_PRESET, PRESETS
from runs.config import DEFAULT_JUDGE
from runs.one_thread import stepped_in_one_thread
from runs.prompt_sets import DEFAULT_PROMPT_SET, shipped_prompt_sets
from runs.public import offered_answering_models, public_gate
from runs.views import as_text
from ui.widgets import PRIVATE, model_picker, user_error
from ui.zerogpu import gpu_handler, sweep_seconds, whole

SHOWN_LINES = 4  # the latest progress lines under the button


@gpu_handler(sweep_seconds)
def compare_checkpoints(checkpoints, baseline, prompt_set, presets, limit, max_new_tokens, judge, round_robin):
    """Run the sweep; stream its progress lines; then the summary and the chart."""
    try:
        if public_gate() is not None:
            raise UserFacingError("a shared app does not run checkpoint sweeps: run `python -m judge sweep` on your "
                                  "own machine, or compare two checkpoints in the Batch tab")
        config = SweepConfig(checkpoints=[c.strip() for c in checkpoints or [] if c and c.strip()],
                             baseline=(baseline or "").strip(), prompts=prompt_set or DEFAULT_PROMPT_SET,
                             presets=[p for p in PRESETS if p in (presets or [])] or [DEFAULT_PRESET],
                             judges=[(judge or "").strip() or DEFAULT_JUDGE], round_robin=bool(round_robin),
                             limit=whole(limit) or None, max_new_tokens=whole(max_new_tokens) or None)
        yield "*Checking the checkpoints, the baseline and the prompts…*", gr.skip(), gr.skip()
        lines: list[str] = []
        for update in stepped_in_one_thread(sweep_updates(config)):
            if isinstance(update, SweepResult):
                summary = write_summary(update)
                yield ("**Done.** " + as_text(summary["sentence"]), sweep_markdown(summary, update.folder.name),
                       sweep_figure(summary))
                return
            lines.append(update)
            yield "  \n".join(as_text(line) for line in lines[-SHOWN_LINES:]), gr.skip(), gr.skip()
    except UserFacingError as exc:
        yield f"**Failed:** {as_text(exc)}", gr.skip(), gr.skip()
        raise user_error(exc) from exc


def sweep_panel(checkpoints_from: gr.CheckboxGroup | None = None, elem_prefix: str = "sweep") -> None:
    """The panel's widgets and events. `checkpoints_from`: the Training tab's adapter list, whose selection fills the
    panel's checkpoints; without it (the Batch tab) they are picked or typed here."""
    with gr.Accordion("Compare checkpoints", open=checkpoints_from is not None, elem_id=f"{elem_prefix}-panel"):
        gr.Markdown("Which checkpoint should you ship? Every checkpoint answers the prompts once per preset, is "
                    "judged against the **baseline**, and the checkpoints are ranked (Bradley-Terry) with intervals. "
                    "Answers and verdicts are cached: a second sweep only answers what is new. Checkpoints: adapter "
                    "names, a training run's name (all its step-N folders), or model specs.")
        with gr.Row():
            offered = pv.trained_adapters() if checkpoints_from is not None else offered_answering_models()
            checkpoints = gr.Dropdown(choices=offered, value=[], multiselect=True,
                                      allow_custom_value=True, label="Checkpoints", scale=3,
                                      elem_id=f"{elem_prefix}-checkpoints")
            baseline = gr.Dropdown(choices=offered_answering_models(), value=FIELDS["base"].default,
                                   allow_custom_value=True, label="Baseline", elem_id=f"{elem_prefix}-baseline",
                                   info="usually the base model the checkpoints were trained from", scale=2)
        with gr.Row():
            prompt_set = gr.Dropdown(choices=shipped_prompt_sets(), value=DEFAULT_PROMPT_SET, allow_custom_value=True,
                                     label="Prompt set", elem_id=f"{elem_prefix}-prompts", info="a name or a file")
            presets = gr.CheckboxGroup(choices=list(PRESETS), value=[DEFAULT_PRESET], label="Presets",
                                       elem_id=f"{elem_prefix}-presets")
            limit = gr.Number(value=5, precision=0, minimum=0, label="Prompts", info="the first N (0 = all)",
                              elem_id=f"{elem_prefix}-limit")
            max_new_tokens = gr.Number(value=128, precision=0, minimum=0, label="Max new tokens",
                                       info="0 = the preset's", elem_id=f"{elem_prefix}-max-new-tokens")
        with gr.Row():
            judge = model_picker("Judge", DEFAULT_JUDGE, elem_id=f"{elem_prefix}-judge", info=False)
            round_robin = gr.Checkbox(value=False, label="Also judge checkpoints against each other",
                                      elem_id=f"{elem_prefix}-round-robin")
        run = gr.Button("Compare checkpoints", variant="primary", elem_id=f"{elem_prefix}-run")
        status = gr.Markdown(elem_id=f"{elem_prefix}-status")
        summary = gr.Markdown(elem_id=f"{elem_prefix}-summary")
        chart = gr.Plot(label="Against the baseline, by training step", elem_id=f"{elem_prefix}-chart")

    run.click(compare_checkpoints,
              [checkpoints, baseline, prompt_set, presets, limit, max_new_tokens, judge, round_robin],
              [status, summary, chart], concurrency_limit=1, concurrency_id="sweep",
              api_name=elem_prefix.replace("-", "_"), **PRIVATE)
    if checkpoints_from is not None:
        checkpoints_from.change(lambda names: gr.Dropdown(choices=pv.trained_adapters(), value=names or []),
                                checkpoints_from, checkpoints, **PRIVATE)
