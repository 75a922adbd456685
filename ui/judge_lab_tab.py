"""The Judge Lab tab: measure judges against gold labels (a shipped or uploaded file, or people's votes), side by
side, and write or edit the template they judge with."""
from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from basics import UserFacingError
from dashboard.judge_lab import (
    DISAGREEMENT_HEADERS,
    calibration_figure,
    calibration_note,
    column_widths,
    confusion_figure,
    disagreement_rows,
    export_validation,
    length_bucket_figure,
    method_notes,
    metrics_table,
)
from judge.judging import METHODS, PROBABILITIES
from judge.templates import default_template, load_template, save_template, template_names
from lab.validation import (
    VALIDATION_MODES,
    ValidationConfig,
    check_public_validation,
    load_validation,
    run_validation,
    shipped_labelled_sets,
)
from runs.config import DEFAULT_JUDGE
from runs.one_thread import stepped_in_one_thread
from runs.public import app_concurrency, hide_server_paths, offered_models, public_gate, visitor_slot
from runs.votes import runs_with_votes
from ui.distill_panel import distill_panel
from ui.inputs import checked_choice, checked_flag, checked_number, checked_text, checked_texts
from ui.widgets import AS_SENT, PRIVATE, user_error, visitor
from ui.zerogpu import gpu_handler, validation_seconds

DEFAULT_SET = next((s for s in shipped_labelled_sets() if "pairs" in Path(s).name), None)


def labelled_sources() -> list[tuple[str, str]]:
    """(name, path) of the shipped labelled examples, then of every run people voted on (their votes are the gold
    labels)."""
    return [*((Path(path).stem, path) for path in shipped_labelled_sets()),
            *((f"votes in {folder.name}", str(folder)) for folder in runs_with_votes())]


def labelled_choices() -> list[tuple[str, str]]:
    """The picker's choices: by path, or by name alone on a shared app, whose page shows none of its server's
    folders (labelled_source() finds the file again)."""
    sources = labelled_sources()
    return [(name, name) for name, _ in sources] if public_gate() else sources


def labelled_source(value: str) -> str:
    """The file or run folder a picked name stands for; any other value as it was sent."""
    return dict(labelled_sources()).get(value, value)


def template_for(mode: str):
    template = default_template("single" if mode == "single" else mode)
    return gr.Dropdown(value=template.name if template.source.endswith(f"{template.name}.yaml") else None,
                       choices=template_names()), template.to_yaml()


def mode_for_file(path: str | None):
    """The shipped toxicity examples are classes: switching to them picks the label mode and its template."""
    if path and "toxicity" in Path(path).name:
        return "label"
    return gr.skip()


def show_template(name: str | None) -> str:
    if not name or (public_gate() and name not in template_names()):  # a shared app shows named templates only
        return gr.skip()
    try:
        return load_template(name).to_yaml()
    except UserFacingError as exc:
        raise user_error(exc) from exc


def save(text: str, name: str):
    if public_gate():
        raise user_error("saving templates is off on this shared app")
    try:
        path = save_template(text, name)
    except UserFacingError as exc:
        raise user_error(exc) from exc
    return f"Saved `{path}`: pick it as `{path.stem}` (or `--template {path.stem}` in the CLI).", gr.Dropdown(
        choices=template_names(), value=path.stem)


def views(folder: str):
    """Every output that shows a validation folder (finished or still running), after the status: the table, the
    plots (the calibration plot hidden where no judge states probabilities, a note saying so instead) and the rows
    judges get wrong."""
    run = load_validation(folder)
    headers, rows = metrics_table(run)
    calibration = calibration_figure(run)
    notes = [*method_notes(run), calibration_note(run)]
    return (gr.Dataframe(value=rows, headers=headers, column_widths=column_widths(headers)),
            confusion_figure(run), length_bucket_figure(run),
            gr.Plot(value=calibration, visible=calibration is not None), disagreement_rows(run),
            "  \n".join(n for n in notes if n))


N_VIEWS = 6  # outputs of views()


@gpu_handler(validation_seconds)
def run_lab(data, mode, template_text, judges, methods, limit, panel=False, progress=gr.Progress(),
            request: gr.Request = None):
    """Validate judges: every judge with every method on a labelled file (agreement with gold labels and its interval,
    kappa, position and length bias, calibration); the tables fill in as each judge finishes.

    Args:
        data: the labelled file: a shipped name (e.g. prompts/validation/good_vs_broken_pairs.jsonl), an uploaded
            JSONL file, or a run folder whose people's votes are the gold labels.
        mode: pairwise, single or label: how the judges are asked.
        template_text: a judge template's YAML; empty for the mode's shipped template.
        judges: the judges' model specs, e.g. ["smollm2-135m-judge"].
        methods: the methods to try for each judge: probabilities and / or parsed.
        limit: judge only the first N rows (0 = all).
        panel: also measure the judges together as a panel.

    Returns:
        A status line, the judges side by side, the confusion matrix, the length and calibration plots, the rows
        judges get wrong, notes, and the validation's folder.
    """
    try:
        config = ValidationConfig(data=labelled_source(checked_text(data, "the labelled file")),
                                  judges=checked_texts(judges, "Judges"), methods=checked_texts(methods, "Methods"),
                                  mode=checked_choice(mode, "Mode", VALIDATION_MODES),
                                  template_text=checked_text(template_text, "the judge template"),
                                  limit=checked_number(limit, "Limit", whole=True, default=0),
                                  panel=checked_flag(panel, "Also as one panel", False))
        if gate := public_gate():
            check_public_validation(gate.policy, config, get_upload_folder())
        with visitor_slot(visitor(request)):
            yield from _validation_views(config, progress)
    except UserFacingError as exc:
        yield f"**Failed:** {hide_server_paths(str(exc))}", *[gr.skip()] * (N_VIEWS + 1)
        raise user_error(exc) from exc


def _validation_views(config: ValidationConfig, progress):
    """(status, the views, folder) as the validation goes: the status names the stage, loading or judging, until
    the run is finished."""
    folder = None
    for update in stepped_in_one_thread(run_validation(config)):
        folder = str(update.folder)
        if update.stage == "item":
            progress((update.index, update.total), desc=f"{update.judge} · {update.method}", unit="rows")
        elif update.stage == "loading":
            yield f"*Loading `{update.judge}`…*", *[gr.skip()] * N_VIEWS, folder
        elif update.stage == "judging":
            yield (f"*Judging {update.total} rows with `{update.judge}` · {update.method}…*",
                   *[gr.skip()] * N_VIEWS, folder)
        elif update.stage in ("judge_done", "done"):
            status = ("**Finished.**" if update.stage == "done" else f"**Done:** {update.judge} · "
                      f"{update.method}; next judge…") + hide_server_paths(f" Saved to `{folder}`")
            yield status, *views(folder), folder


def export(folder: str | None, kind: str) -> str:
    if not folder:
        raise user_error("run a validation first")
    return str(export_validation(load_validation(folder), kind))


def use_upload(path: str | None):
    if not path:
        return gr.skip()
    return gr.Dropdown(choices=[*labelled_choices(), (Path(path).name, path)], value=path)


def judge_lab_tab() -> None:
    """The Judge Lab's widgets and events (called inside gr.Blocks)."""
    public = public_gate()
    with gr.Tab("Judge Lab", elem_id="tab-judge-lab") as tab:
        gr.Markdown("Measure judges against **gold labels** before trusting them: agreement (with a 95% interval), "
                    "position bias, length bias and calibration, side by side. Labelled files are JSONL pairs "
                    "(`prompt`, `answer_a`, `answer_b`, `label` A/B/tie), scores (`prompt`, `answer`, `score`) or "
                    "classes (`text`, `class`); a run folder's people's votes work as gold labels too.")
        with gr.Row():
            default = Path(DEFAULT_SET).stem if public and DEFAULT_SET else DEFAULT_SET
            data = gr.Dropdown(choices=labelled_choices(), value=default, label="Labelled file", scale=3,
                               allow_custom_value=True, elem_id="lab-data",
                               info="a shipped example, an uploaded .jsonl, or a run folder with votes")
            upload = gr.UploadButton("Upload a file", file_types=[".jsonl"], size="md", scale=0, min_width=160,
                                     elem_id="lab-upload")
        with gr.Row():
            mode = gr.Radio(list(VALIDATION_MODES), value="pairwise", label="Mode", elem_id="lab-mode",
                            info="pairwise (with swap) · single: each answer graded alone · label: classes")
            judges = gr.Dropdown(choices=offered_models(), value=[DEFAULT_JUDGE], multiselect=True,
                                 allow_custom_value=True, label="Judges", elem_id="lab-judges", scale=2)
        with gr.Row():  # a second row: five settings side by side squeezed the panel box's text at 800 px
            methods = gr.CheckboxGroup(list(METHODS), value=[PROBABILITIES], label="Methods", elem_id="lab-methods")
            cap = public.policy.limits.labelled_items if public else None
            limit = gr.Number(value=cap or 0, precision=0, minimum=0, maximum=cap, label="Limit", elem_id="lab-limit",
                              info=f"first N rows (at most {cap} here)" if cap else "first N rows (0 = all)")
            panel = gr.Checkbox(value=False, label="Also as one panel", elem_id="lab-panel",
                                info="the judges' majority verdict (mean score), with Krippendorff's alpha")
        with gr.Accordion("Judge template", open=False, elem_id="lab-template-settings"):
            template_pick = gr.Dropdown(choices=template_names(), value="judge_pairwise", label="Template",
                                        elem_id="lab-template")
            template_text = gr.Code(default_template("pairwise").to_yaml(), language="yaml", lines=14,
                                    interactive=public is None, elem_id="lab-template-text",
                                    label="Template (editable; validated before it runs)" if public is None
                                    else "Template")
            with gr.Row(visible=public is None):  # a shared app saves nothing a visitor wrote
                save_name = gr.Textbox(label="Save as", placeholder="my-judge", elem_id="lab-save-name", scale=3)
                save_button = gr.Button("Save template", size="md", scale=0, min_width=160, elem_id="lab-save")
            save_status = gr.Markdown(elem_id="lab-save-status")
        run = gr.Button("Validate", variant="primary", elem_id="lab-run")
        status = gr.Markdown("*Pick a labelled file and judges, then press Validate.*", elem_id="lab-status")
        # The real columns come with the first measured judge. Up to 17 of them: wrapped, so the last one is not
        # pushed past the page's edge at 1366 px.
        table = gr.Dataframe(headers=["judge", "method", "agreement"], label="Judges side by side", interactive=False,
                             wrap=True, elem_id="lab-metrics")
        with gr.Row():
            confusion = gr.Plot(label="Confusion matrix", elem_id="lab-confusion")
            lengths = gr.Plot(label="Agreement by length gap", elem_id="lab-lengths")
            calibration = gr.Plot(label="Calibration", elem_id="lab-calibration")
        lab_notes = gr.Markdown(elem_id="lab-notes")  # the method that ran where another was ticked; no calibration
        disagreements = gr.Dataframe(headers=DISAGREEMENT_HEADERS, interactive=False, elem_id="lab-disagreements",
                                     label="Rows where a judge disagrees with the gold label")
        with gr.Row():
            csv_button = gr.Button("Export metrics CSV", size="md", elem_id="lab-export-csv")
            json_button = gr.Button("Export everything (JSON)", size="md", elem_id="lab-export-json")
        download = gr.File(label="Download", interactive=False, elem_id="lab-download")
        folder = gr.State(None)
        if public is None:  # training a judge is for the people who run the app, not its visitors
            distill_panel(data, judges)

    tab.select(lambda: gr.Dropdown(choices=labelled_choices()), None, data, **PRIVATE)
    upload.upload(use_upload, upload, data, **PRIVATE)
    data.change(mode_for_file, data, mode, **PRIVATE)
    mode.change(template_for, mode, [template_pick, template_text], **PRIVATE)
    template_pick.input(show_template, template_pick, template_text, **PRIVATE)
    save_button.click(save, [template_text, save_name], [save_status, template_pick], **PRIVATE)
    run.click(run_lab, [data, mode, template_text, judges, methods, limit, panel],
              [status, table, confusion, lengths, calibration, disagreements, lab_notes, folder], api_name="validate",
              **AS_SENT,
              concurrency_limit=app_concurrency(), concurrency_id="validate")
    for button, kind in ((csv_button, "csv"), (json_button, "json")):
        button.click(functools.partial(export, kind=kind), folder, download, **PRIVATE)
