"""The Judge Lab's distillation panel: train a judge from a teacher's labels (lab/distill.py), watch it read and
train, and see it measured before and after; the student then appears in every judge picker."""
from __future__ import annotations

import gradio as gr

from basics import UserFacingError
from dashboard.distill_view import DISTILL_HEADERS, distill_rows, learning_curve_figure, loss_figure
from lab.distill import GOLD, DistillConfig, run_distill
from models import known_model_specs
from runs.one_thread import stepped_in_one_thread
from ui.widgets import user_error
from ui.zerogpu import distill_seconds, gpu_handler

STAGES = {"labelling": "Labelling with the teacher", "features": "Reading the answers", "training": "Training",
          "validating": "Measuring on the held-out prompts", "done": "Done"}


@gpu_handler(distill_seconds)
def distil(data, teacher, name, held_out, degrade, limit, progress=gr.Progress()):
    """Run a distillation, reporting each stage; the table and the curve fill in when it is measured."""
    try:
        config = DistillConfig(data=data or "", name=(name or "").strip() or "student", teacher=teacher or GOLD,
                               held_out=float(held_out or 0.2), degrade=bool(degrade), limit=int(limit or 0))
        for update in stepped_in_one_thread(run_distill(config)):
            if update.total:
                progress((update.done, update.total), desc=STAGES[update.stage], unit="items")
            if update.stage == "done":
                report = update.report
                speed = ", ".join(f"{k} {v}/s" for k, v in report["items_per_second"].items() if v is not None)
                yield (f"**Done.** Saved to `{update.folder}`; pick it as a judge: `head:{update.folder}` "
                       f"(items per second: {speed}).", gr.Dataframe(value=distill_rows(report),
                                                                     headers=DISTILL_HEADERS),
                       learning_curve_figure(report), loss_figure(report), gr.Dropdown(choices=known_model_specs()))
            elif not update.done:
                yield f"*{STAGES[update.stage]}: {update.message}…*", *[gr.skip()] * 4
    except UserFacingError as exc:
        yield f"**Failed:** {exc}", *[gr.skip()] * 4
        raise user_error(exc) from exc


def distill_panel(data: gr.Dropdown, judges: gr.Dropdown) -> None:
    """The panel's widgets and events, inside the Judge Lab; `data` is the lab's labelled file, `judges` its picker
    (refreshed so the new student can be picked at once)."""
    with gr.Accordion("Train a judge from labels (distil)", open=False, elem_id="distill-panel"):
        gr.Markdown("Train a small scoring judge (a reward head on the embedded model) on the labelled pairs above, "
                    "labelled by a **teacher**: the file's own gold labels, or any judge (a served strong model, a "
                    "panel member). Pairs are split by prompt; the student is measured, beside the untrained "
                    "default judge, on prompts it never saw.")
        with gr.Row():
            teacher = gr.Dropdown(choices=[GOLD, *known_model_specs()], value=GOLD, allow_custom_value=True,
                                  label="Teacher", elem_id="distill-teacher", info="gold = the file's labels")
            name = gr.Textbox(value="student", label="Student name", elem_id="distill-name",
                              info="its folder under adapters/judges/")
            held_out = gr.Number(value=0.2, minimum=0.05, maximum=0.9, label="Held-out share of prompts",
                                 elem_id="distill-held-out")
            degrade = gr.Checkbox(value=True, label="Add degraded pairs", elem_id="distill-degrade",
                                  info="off-topic, shuffled, cut-off… versions of the preferred answers")
            limit = gr.Number(value=0, precision=0, minimum=0, label="Limit", elem_id="distill-limit",
                              info="first N pairs (0 = all)")
        run = gr.Button("Distil", variant="primary", elem_id="distill-run")
        status = gr.Markdown("*Pick a labelled pairs file above, then press Distil.*", elem_id="distill-status")
        table = gr.Dataframe(headers=DISTILL_HEADERS, interactive=False, label="Before and after",
                             elem_id="distill-table")
        with gr.Row():
            curve = gr.Plot(label="Learning curve", elem_id="distill-curve")
            loss = gr.Plot(label="Training loss", elem_id="distill-loss")
    run.click(distil, [data, teacher, name, held_out, degrade, limit], [status, table, curve, loss, judges],
              api_name="distill", concurrency_limit=1, concurrency_id="validate")
