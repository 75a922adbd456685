"""The Batch tab: a whole prompt set through both models and the judge at one or more presets, resumable."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from basics import UserFacingError
from models import DEFAULT_PRESET, PRESETS
from models.endpoints import with_base_url
from runs.config import (
    DEFAULT_JUDGE_METHOD,
    DEFAULT_LONG_PROMPTS,
    JUDGE_METHODS,
    LONG_PROMPTS,
    MODES,
    CompareConfig,
)
from runs.costs import cost_line, estimate_cost
from runs.one_thread import stepped_in_one_thread
from runs.pipeline import resume_compare, run_compare
from runs.progress import RunProgress
from runs.prompt_sets import DEFAULT_PROMPT_SET, load_prompt_set, shipped_prompt_sets
from runs.public import (
    app_concurrency,
    hide_server_paths,
    offered_answering_models,
    public_gate,
    visitor_slot,
)
from runs.store import read_records, unfinished_runs
from runs.views import BATCH_HEADERS, batch_row
from ui.inputs import checked_choice, checked_flag, checked_number, checked_text, checked_texts
from ui.sweep_panel import sweep_panel
from ui.widgets import (
    AS_SENT,
    PRIVATE,
    base_url_box,
    cache_box,
    long_prompts_choice,
    longest_answer,
    model_picker,
    panel_picker,
    refreshed_pickers,
    system_prompt_boxes,
    user_error,
    visitor,
)
from ui.zerogpu import batch_seconds, gpu_handler, resume_seconds


def resume_choices() -> list[tuple[str, str]]:
    """The unfinished runs to offer: by path on a private app; by name on a shared one (its server's folders are
    not shown, and a name is all check_run takes), leaving out a symlink that leads out of the results folder."""
    if gate := public_gate():
        offered = []
        for name, _ in unfinished_runs():
            try:
                gate.policy.check_run(name)
            except UserFacingError:
                continue
            offered.append((name, name))
        return offered
    return unfinished_runs()


def stream_batch(updates, rows: list, progress):
    """Shared by Run and Resume: (progress box, status, table, resume list) while a run goes; summary when done."""
    watch = RunProgress(rows)
    try:
        for update in updates:
            if not watch.follow(update):
                continue
            progress(len(watch.rows) / max(update.total, 1), desc=watch.bar_text(update))
            if update.stage == "done":
                yield (gr.Markdown(visible=False), hide_server_paths(watch.status(update)), watch.rows,
                       gr.Dropdown(choices=resume_choices(), value=None))
                return
            yield gr.Markdown(visible=True), watch.status(update), watch.rows, gr.skip()
    except UserFacingError as exc:
        yield gr.Markdown(visible=False), f"**Failed:** {hide_server_paths(str(exc))}", gr.skip(), gr.skip()
        raise user_error(exc) from exc


@gpu_handler(batch_seconds)
def run_batch(prompt_set, model_a, model_b, judge, presets, max_new_tokens, mode, limit,
              judge_method=DEFAULT_JUDGE_METHOD, more_judges=None, base_url="", judge_cache=True,
              long_prompts=DEFAULT_LONG_PROMPTS, system_a="", system_b="", progress=gr.Progress(),
              request: gr.Request = None):
    """Run every prompt of a set (or the first `limit`) at each chosen preset; records stream into the table."""
    try:
        with visitor_slot(visitor(request)):
            yield from _run_batch(prompt_set, model_a, model_b, judge, presets, max_new_tokens, mode, limit,
                                  judge_method, more_judges, base_url, judge_cache, long_prompts, system_a, system_b,
                                  progress)
    except UserFacingError as exc:  # e.g. the visitor's slots are taken
        raise user_error(exc) from exc


def _run_batch(prompt_set, model_a, model_b, judge, presets, max_new_tokens, mode, limit, judge_method,
               more_judges, base_url, judge_cache, long_prompts, system_a, system_b, progress):
    try:
        gate = public_gate()
        prompt_set = checked_text(prompt_set, "the prompt set")
        if gate:  # checked on the text sent, before any server file is read
            prompt_set = gate.policy.check_data_file(prompt_set, get_upload_folder(), (".jsonl", ".csv"))
        limit = checked_number(limit, "Limit", whole=True, default=0)
        max_new_tokens = checked_number(max_new_tokens, "max new tokens", whole=True)
        items = load_prompt_set(prompt_set or DEFAULT_PROMPT_SET)
        if limit < 0:
            raise UserFacingError(f"Limit must be 0 (all prompts) or more, got {limit}")
        if limit > 0:
            items = items[:limit]
        chosen = [p for p in PRESETS if p in checked_texts(presets, "Presets")]
        if not chosen:
            raise UserFacingError(f"pick at least one preset ({', '.join(PRESETS)})")
        sampling = PRESETS[chosen[0]].with_(max_new_tokens=max_new_tokens)
        specs = [checked_text(model_a, "Model A"), checked_text(model_b, "Model B"), checked_text(judge, "Judge"),
                 *checked_texts(more_judges, "More judges")]
        served = [with_base_url(spec, checked_text(base_url, "the base URL")) for spec in specs]
        config = CompareConfig(model_a=served[0], model_b=served[1], judge=served[2], more_judges=served[3:],
                               mode=checked_choice(mode, "Judge mode", MODES), preset=chosen[0],
                               sampling=sampling, more_presets=chosen[1:],
                               judge_method=checked_choice(judge_method, "Judge method", JUDGE_METHODS,
                                                           DEFAULT_JUDGE_METHOD),
                               judge_cache=checked_flag(judge_cache, "the judge cache", True),
                               long_prompts=checked_choice(long_prompts or None, "long prompts", LONG_PROMPTS,
                                                           DEFAULT_LONG_PROMPTS),
                               system_a=checked_text(system_a, "the system prompt for Model A"),
                               system_b=checked_text(system_b, "the system prompt for Model B"))
        if gate:
            gate.policy.check_compare(config, items)
        config.validate()
        label = "batch-" + Path(str(prompt_set)).stem
        estimate = cost_line(estimate_cost(config, items), "Estimated cost (every answer at its length limit)")
    except UserFacingError as exc:
        yield gr.Markdown(visible=False), f"**Failed:** {hide_server_paths(str(exc))}", [], gr.skip()
        raise user_error(exc) from exc
    yield gr.Markdown(visible=True), f"*{estimate}*", [], gr.skip()
    yield from stream_batch(stepped_in_one_thread(run_compare(config, items, label=label)), [], progress)


@gpu_handler(resume_seconds)
def resume_batch(run_dir, progress=gr.Progress(), request: gr.Request = None):
    """Finish an interrupted run in its own folder (a name or path from the list, read when asked, so API clients
    may name any unfinished run); the records it already has fill the table first."""
    if not run_dir:
        raise user_error("Pick an unfinished run to resume (the list shows runs without a summary.json).")
    try:
        run_dir = checked_text(run_dir, "the run to resume")
        with visitor_slot(visitor(request)):
            folder = public_gate().policy.check_run(run_dir) if public_gate() else run_dir
            rows = [batch_row(r) for r in read_records(folder)]
            yield from stream_batch(stepped_in_one_thread(resume_compare(folder)), rows, progress)
    except (OSError, UserFacingError) as exc:
        # The name as sent, cut short: the message after it names the run again where it matters.
        shown = run_dir if len(str(run_dir)) <= 80 else f"{str(run_dir)[:80]}…"
        raise user_error(f"cannot resume {shown}: {exc}") from exc


def check_prompt_file(path):
    """An uploaded set is read at once, so a bad line is reported before anything runs."""
    if not path:
        return gr.skip(), gr.skip()
    try:
        if gate := public_gate():
            gate.policy.check_data_file(path, get_upload_folder(), (".jsonl", ".csv"))
        items = load_prompt_set(path)
    except UserFacingError as exc:
        return gr.skip(), f"**Cannot use this file:** {exc}"
    # The upload is named by its file name: the server's temporary path means nothing to the person who sent it.
    return (gr.Dropdown(value=path, choices=[*shipped_prompt_sets(), (f"{Path(path).name} (uploaded)", path)]),
            f"Loaded **{len(items)} prompts** from `{Path(path).name}`: press Run batch.")


def refresh_batch_lists():
    """The pickers and the unfinished runs read now; Model A and B are not offered the scoring judges."""
    answering = offered_answering_models()
    return (gr.Dropdown(choices=answering), gr.Dropdown(choices=answering), *refreshed_pickers(1),
            gr.Dropdown(choices=resume_choices()))


def batch_tab(pickers) -> None:
    """The Batch tab: a whole prompt set at one or more presets, saved as one run; `pickers` give the defaults."""
    with gr.Tab("Batch", elem_id="tab-batch") as tab:
        gr.Markdown("Run a **prompt set** through both models and the judge, at one or more sampling presets. "
                    "Each finished record is saved at once, so an interrupted run can be resumed below.")
        with gr.Row():
            prompt_set = gr.Dropdown(choices=shipped_prompt_sets(), value=DEFAULT_PROMPT_SET, label="Prompt set",
                                     allow_custom_value=True, elem_id="batch-set", scale=3,
                                     info="a shipped set, or upload a .jsonl / .csv file (id, prompt, ...)")
            upload = gr.UploadButton("Upload a file", file_types=[".jsonl", ".csv"], size="md", scale=0,
                                     min_width=160, elem_id="batch-upload")
        with gr.Row():
            models = [model_picker(picker.label, picker.value, elem_id=f"batch-{name}")
                      for picker, name in zip(pickers, ("model-a", "model-b", "judge"))]
        with gr.Row():
            more_judges = panel_picker("batch-more-judges")
            base_url = base_url_box("batch-base-url")
            judge_cache = cache_box("batch-judge-cache")
        with gr.Row():
            presets = gr.CheckboxGroup(list(PRESETS), value=[DEFAULT_PRESET], label="Presets", elem_id="batch-presets",
                                       info="each prompt is answered once per preset")
            max_new_tokens = gr.Slider(8, longest_answer(), value=192, step=8, label="max new tokens",
                                       elem_id="batch-max-new-tokens")
            mode = gr.Radio(list(MODES), value="single", label="Judge mode", elem_id="batch-mode")
            judge_method = gr.Radio(list(JUDGE_METHODS), value=DEFAULT_JUDGE_METHOD, label="Judge method",
                                    elem_id="batch-judge-method",
                                    info="auto: read the judge's probabilities where its backend can")
            limit = gr.Number(value=0, precision=0, minimum=0, label="Limit", elem_id="batch-limit",
                              info="first N prompts (0 = all)")
            long_prompts = long_prompts_choice("batch-long-prompts")
        system_a, system_b = system_prompt_boxes("batch-")
        run = gr.Button("Run batch", variant="primary", elem_id="batch-run")
        progress_box = gr.Markdown(elem_id="batch-progress", min_height=64, visible=False)
        status = gr.Markdown("*Not started: pick a prompt set and press Run batch.*", elem_id="batch-status")
        table = gr.Dataframe(headers=BATCH_HEADERS, label="Finished records", interactive=False,
                             elem_id="batch-table")
        with gr.Accordion("Resume an interrupted run", open=False, elem_id="batch-resume-settings"):
            with gr.Row():
                resume_run = gr.Dropdown(choices=resume_choices(), value=None, label="Unfinished runs",
                                         allow_custom_value=True,
                                         info="run folders with run.json but no summary.json", scale=4,
                                         elem_id="batch-resume-run")
                resume = gr.Button("Resume", size="md", scale=0, min_width=140, elem_id="batch-resume")
        if public_gate() is None:  # a shared app runs no sweeps
            sweep_panel(elem_prefix="batch-sweep")

    outputs = [progress_box, status, table, resume_run]
    run.click(run_batch, [prompt_set, *models, presets, max_new_tokens, mode, limit, judge_method, more_judges,
                          base_url, judge_cache, long_prompts, system_a, system_b], outputs,
              api_name="batch", **AS_SENT,
              concurrency_limit=app_concurrency(), concurrency_id="batch", show_progress_on=[progress_box])
    resume.click(resume_batch, resume_run, outputs, api_name="resume_batch", **AS_SENT,
                 concurrency_limit=app_concurrency(),
                 concurrency_id="batch", show_progress_on=[progress_box])
    upload.upload(check_prompt_file, upload, [prompt_set, status], **PRIVATE)
    tab.select(refresh_batch_lists, None, [*models, resume_run], **PRIVATE)
