"""LLM as a Judge: the Gradio app. It only wires widgets to the `models`, `judge` and `finetune` packages."""
from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path

import gradio as gr

from finetune import progress_view as pv
from finetune.config import DEMO_DATA, FIELDS
from judge.compare import DEFAULT_JUDGE, CompareConfig, resume_compare, run_compare
from judge.prompt_sets import DEFAULT_PROMPT_SET, load_prompt_set, shipped_prompt_sets, single_prompt
from judge.runs import read_records, read_summary, unfinished_runs
from judge.templates import default_template
from judge.votes import VOTES_FILE, record_vote
from judge.views import (
    SCORE_HEADERS, batch_row, reasons_markdown, score_rows, summary_table_markdown, timings_line, verdict_line,
)
from models import (
    DEFAULT_JUDGE_SETTINGS, PRESETS, SamplingSettings, UserFacingError, known_model_specs, load_model,
)
from models.embedded import EMBEDDED_MODELS
from models.spec import adapters_dir

CUSTOM = "custom"
STUDY_PROMPTS = [item.prompt for item in load_prompt_set(DEFAULT_PROMPT_SET)]
STAGE_TEXT = {
    "loading": "Loading models (the first load of the embedded model converts it once, ~20 s)…",
    "answer_a": "Model A is answering…",
    "answer_b": "Model B is answering…",
    "judging": "The judge is grading…",
}


def model_picker(label: str, value: str) -> gr.Dropdown:
    return gr.Dropdown(
        choices=known_model_specs(), value=value, label=label, allow_custom_value=True,
        elem_id="picker-" + label.lower().replace(" ", "-"),
        info="BASE or BASE+ADAPTER: an embedded alias, hub id, local folder or .gguf file",
    )


def refresh_pickers():
    """New adapters (e.g. just trained) appear in the pickers when the page loads."""
    choices = known_model_specs()
    return [gr.Dropdown(choices=choices) for _ in range(3)]


def apply_preset(name: str):
    if name not in PRESETS:
        return gr.skip(), gr.skip()
    return PRESETS[name].temperature, PRESETS[name].min_p


def template_for_mode(mode: str) -> str:
    return default_template(mode).to_yaml()


def compare(model_a, model_b, judge, prompt, preset, temperature, min_p, top_p, max_new_tokens, seed,
            mode, template_text, swap, judge_temperature):
    """Stream both answers, then the judge's scores; every click is saved as a run folder."""
    answer_a = answer_b = ""
    try:
        sampling = SamplingSettings(temperature=float(temperature), min_p=float(min_p), top_p=float(top_p),
                                    max_new_tokens=int(max_new_tokens), seed=int(seed))
        matches_preset = preset in PRESETS and PRESETS[preset].with_(
            max_new_tokens=sampling.max_new_tokens, seed=sampling.seed, top_p=sampling.top_p) == sampling
        config = CompareConfig(
            model_a=model_a, model_b=model_b, judge=judge, mode=mode,
            preset=preset if matches_preset else None, sampling=sampling,
            judge_sampling=DEFAULT_JUDGE_SETTINGS.with_(temperature=float(judge_temperature)),
            template_text=template_text, swap=bool(swap),
        )
        item = single_prompt(prompt)
        record = None
        for update in run_compare(config, [item], label="app"):
            answer_a, answer_b = update.answer_a or answer_a, update.answer_b or answer_b
            if update.stage in STAGE_TEXT:
                yield answer_a, answer_b, f"*{STAGE_TEXT[update.stage]}*", gr.skip(), gr.skip(), gr.skip(), None
            elif update.stage == "record":
                record = update.record
        # The last yield carries every value, so API clients get the whole result rather than "skip" markers.
        yield (answer_a, answer_b, f"### {verdict_line(record)}", score_rows(record), reasons_markdown(record),
               f"{timings_line(record)}  \nSaved to `{update.run_dir}`",
               {"run_dir": str(update.run_dir), "id": record["id"], "preset": record.get("preset")})
    except UserFacingError as exc:
        # Answers already streamed stay on the page; the error says what to fix.
        raise gr.Error(str(exc)) from exc


# ---- Training tab ----------------------------------------------------------------------------------------------
def config_number(name: str, label: str, info: str | None = None, **kwargs) -> gr.Number:
    """A number box prefilled with FinetuneConfig's default, its help text as info."""
    f = FIELDS[name]
    info = info or f.metadata.get("help")
    return gr.Number(value=f.default, label=label, info=None if info.lower() == label.lower() else info,
                     precision=0 if f.type in (int, "int") else None, elem_id=f"train-{name.replace('_', '-')}",
                     **kwargs)


def start_training(base, data, name, max_steps, save_steps, lora_r, lora_alpha, lora_dropout, learning_rate,
                   per_device_batch_size, gradient_accumulation_steps, max_seq_length, seed, max_rows,
                   progress=gr.Progress()):
    """Train in a background thread; stream the step, loss and a live loss curve; then refresh the pickers."""
    try:
        config = pv.config_from_form(
            name, base=base, data=data, max_steps=max_steps, save_steps=save_steps, lora_r=lora_r,
            lora_alpha=lora_alpha, lora_dropout=lora_dropout, learning_rate=learning_rate,
            per_device_batch_size=per_device_batch_size, gradient_accumulation_steps=gradient_accumulation_steps,
            max_seq_length=max_seq_length, seed=seed, max_rows=max_rows)
        status = f"*Loading `{config.base}` and the data, then training {config.max_steps} steps…*"
        empty_curve = pv.loss_figure({}, max_steps=config.max_steps)
        yield gr.Markdown(visible=True), status, empty_curve, *[gr.skip()] * 4
        progress((0, config.max_steps), desc="loading model and data", unit="steps")
        curve, last_loss = [], None
        for event in pv.run_training(config):
            if not hasattr(event, "step"):  # the TrainResult
                specs = known_model_specs()
                yield (gr.Markdown(visible=False), pv.done_markdown(event),
                       pv.loss_figure({name: event.loss_curve or curve}, max_steps=config.max_steps),
                       *[gr.Dropdown(choices=specs) for _ in range(3)],
                       gr.CheckboxGroup(choices=pv.trained_adapters()))
                return
            if event.loss is not None:
                last_loss = event.loss
                curve.append({"step": event.step, "loss": event.loss})
            status = pv.status_line(event, last_loss)
            if event.saved:
                status += f" · saved `{pv.relative_name(event.saved)}`"
            yield gr.skip(), status, pv.loss_figure({name: curve}, max_steps=config.max_steps), *[gr.skip()] * 4
            progress((min(event.step, event.max_steps), event.max_steps), desc="training", unit="steps")
    except Exception as exc:  # noqa: BLE001 - a bad setting, or e.g. out of memory: say what failed
        message = str(exc) if isinstance(exc, UserFacingError) else f"training failed ({type(exc).__name__}): {exc}"
        # The status keeps the message after the pop-up closes.
        yield gr.Markdown(visible=False), f"**Failed:** {message}", *[gr.skip()] * 5
        raise gr.Error(message) from exc


def fill_data_path(file_path):
    return file_path or gr.skip()


def show_adapters(names):
    """Meta table and overlaid loss curves of the selected adapters."""
    metas = pv.read_metas(names or [])
    return pv.meta_rows(metas), pv.metas_figure(metas) if metas else None


def refresh_adapters(selected):
    choices = pv.trained_adapters()
    return gr.CheckboxGroup(choices=choices, value=[n for n in selected or [] if n in choices])


def training_tab(pickers) -> gr.CheckboxGroup:
    """The Training tab's widgets and events; `pickers` (the Compare tab's) learn new adapters after a run."""
    gr.Markdown(
        f"Fine-tune a **LoRA adapter** on a base model. Checkpoints are saved to `{adapters_dir()}/NAME/step-N` "
        "and appear in the Compare tab's model pickers as `BASE+NAME/step-N`."
    )
    with gr.Row():
        base = gr.Dropdown(choices=list(EMBEDDED_MODELS), value=FIELDS["base"].default, label="Base model",
                           allow_custom_value=True, info=FIELDS["base"].metadata["help"], elem_id="train-base",
                           scale=1)
        data = gr.Textbox(value=DEMO_DATA, label="Training data", info=FIELDS["data"].metadata["help"] +
                          "; layouts: messages, ShareGPT conversations, alpaca instruction/output, prompt/response",
                          elem_id="train-data", scale=3)
        upload = gr.UploadButton("Upload a file", file_types=[".jsonl", ".json", ".csv", ".parquet"], size="md",
                                 scale=0, min_width=160, elem_id="train-upload")
    with gr.Row():
        name = gr.Textbox(value="my-run", label="Output name", elem_id="train-name",
                          info="folder under the adapters folder (an existing run resumes)")
        max_steps = config_number("max_steps", "Max steps")
        save_steps = gr.Textbox(value="", label="Save steps", elem_id="train-save-steps",
                                info="comma-separated, e.g. 20,60; the last step is always saved")
    with gr.Accordion("Hyperparameters", open=False, elem_id="train-hyperparameters"):
        with gr.Row():
            lora_r = config_number("lora_r", "LoRA r")
            lora_alpha = config_number("lora_alpha", "LoRA alpha")
            lora_dropout = config_number("lora_dropout", "LoRA dropout", info="0 = off; below 1", minimum=0,
                                         maximum=0.99, step=0.05)
            learning_rate = config_number("learning_rate", "Learning rate", step=1e-5)
        with gr.Row():
            batch = config_number("per_device_batch_size", "Batch size")
            accumulation = config_number("gradient_accumulation_steps", "Gradient accumulation")
            seq_length = config_number("max_seq_length", "Max sequence length")
            seed = config_number("seed", "Seed")
            max_rows = config_number("max_rows", "Max rows", info="use at most this many rows (0 = all)")
    start = gr.Button("Start training", variant="primary", elem_id="train-start")
    with gr.Row(equal_height=False):
        with gr.Column():
            # The progress bar is drawn over this box (shown while training), so it never hides the status line.
            progress_box = gr.Markdown(elem_id="train-progress", min_height=64, visible=False)
            status = gr.Markdown("*Not started: fill in the form and press Start training.*", elem_id="train-status")
        loss_plot = gr.Plot(label="Training loss (live)", elem_id="train-loss")

    gr.Markdown("## Existing adapters\nSelect checkpoints to compare their settings and loss curves.")
    with gr.Row():
        adapters = gr.CheckboxGroup(choices=pv.trained_adapters(), label="Adapters (relative to the adapters folder)",
                                    elem_id="adapter-list", scale=4)
        refresh = gr.Button("Refresh list", size="md", scale=0, min_width=140, elem_id="adapter-refresh")
    meta_table = gr.Dataframe(headers=pv.META_HEADERS, label="Selected adapters", interactive=False,
                              elem_id="adapter-meta")
    curves = gr.Plot(label="Loss curves (overlaid)", elem_id="adapter-curves")

    upload.upload(fill_data_path, upload, data, api_visibility="private")
    start.click(
        start_training,
        [base, data, name, max_steps, save_steps, lora_r, lora_alpha, lora_dropout, learning_rate, batch,
         accumulation, seq_length, seed, max_rows],
        [progress_box, status, loss_plot, *pickers, adapters],
        api_name="train", concurrency_limit=1, show_progress_on=[progress_box],
    )
    refresh.click(refresh_adapters, adapters, adapters, api_visibility="private")
    adapters.change(show_adapters, adapters, [meta_table, curves], api_visibility="private")
    return adapters


# ---- Votes (Compare tab) ---------------------------------------------------------------------------------------
VOTE_BUTTONS = {"A": ("A is better", "vote-a"), "B": ("B is better", "vote-b"), "tie": ("Tie", "vote-tie"),
                "both_bad": ("Both are bad", "vote-bad")}


def cast_vote(choice: str, shown: dict | None) -> str:
    """Save a person's vote on the record just shown (the compare click keeps its run folder and id)."""
    if not shown:
        raise gr.Error("Nothing to vote on yet: run a comparison first, then vote on its answers.")
    try:
        record_vote(shown["run_dir"], shown["id"], choice, preset=shown.get("preset"))
    except UserFacingError as exc:
        raise gr.Error(str(exc)) from exc
    return f"Vote saved: **{VOTE_BUTTONS[choice][0]}** (`{Path(shown['run_dir']) / VOTES_FILE}`)"


# ---- Batch tab -------------------------------------------------------------------------------------------------
BATCH_HEADERS = ["Prompt id", "Preset", "Total A", "Total B", "Winner"]


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def stream_batch(updates, rows: list, progress):
    """Shared by Run and Resume: (progress box, status, table, resume list) while a run goes; summary when done."""
    started = time.perf_counter()
    done_here, last = 0, None
    try:
        for update in updates:
            if update.stage == "record":
                rows.append(batch_row(update.record))
                done_here += 1
            elif (update.stage, update.index) == last or update.stage not in (*STAGE_TEXT, "done"):
                continue  # answers stream token by token; the status only changes with the stage
            last = (update.stage, update.index)
            done, total = len(rows), update.total
            progress((done, total), desc="prompts", unit="prompts")
            if update.stage == "done":
                folder = Path(update.run_dir)
                status = (f"**Finished:** {total} record(s) in {_clock(time.perf_counter() - started)}. "
                          f"Saved to `{folder}`\n\n{summary_table_markdown(read_summary(folder))}")
                yield gr.Markdown(visible=False), status, rows, gr.Dropdown(choices=unfinished_runs(), value=None)
                return
            elapsed = time.perf_counter() - started
            timing = ""
            if done_here:
                per_prompt = elapsed / done_here
                timing = f" · {per_prompt:.1f} s per prompt · about {_clock(per_prompt * (total - done))} left"
            doing = "" if update.stage == "record" or done >= total else (
                f" · prompt {done + 1} ({update.item.id if update.item else '…'}): {STAGE_TEXT[update.stage]}"
                if update.stage != "loading" else f" · {STAGE_TEXT['loading']}")
            yield (gr.Markdown(visible=True), f"**{done}/{total} done**{timing}{doing}  \nRun folder: "
                   f"`{update.run_dir}`", rows, gr.skip())
    except UserFacingError as exc:
        yield gr.Markdown(visible=False), f"**Failed:** {exc}", gr.skip(), gr.skip()
        raise gr.Error(str(exc)) from exc


def run_batch(prompt_set, model_a, model_b, judge, presets, max_new_tokens, mode, limit, progress=gr.Progress()):
    """Run every prompt of a set (or the first `limit`) at each chosen preset; records stream into the table."""
    try:
        items = load_prompt_set(prompt_set or DEFAULT_PROMPT_SET)
        if limit and int(limit) > 0:
            items = items[: int(limit)]
        chosen = [p for p in PRESETS if p in (presets or [])]
        if not chosen:
            raise UserFacingError("pick at least one preset (p1, p2)")
        sampling = PRESETS[chosen[0]].with_(max_new_tokens=int(max_new_tokens))
        config = CompareConfig(model_a=model_a, model_b=model_b, judge=judge, mode=mode, preset=chosen[0],
                               sampling=sampling, more_presets=chosen[1:])
        label = "batch-" + Path(str(prompt_set)).stem
    except UserFacingError as exc:
        yield gr.Markdown(visible=False), f"**Failed:** {exc}", [], gr.skip()
        raise gr.Error(str(exc)) from exc
    yield from stream_batch(run_compare(config, items, label=label), [], progress)


def resume_batch(run_dir, progress=gr.Progress()):
    """Finish an interrupted run in its own folder; the records it already has fill the table first."""
    if not run_dir:
        raise gr.Error("Pick an unfinished run to resume (the list shows runs without a summary.json).")
    try:
        rows = [batch_row(r) for r in read_records(run_dir)]
    except OSError as exc:
        raise gr.Error(f"cannot read {run_dir}: {exc}") from exc
    yield from stream_batch(resume_compare(run_dir), rows, progress)


def check_prompt_file(path):
    """An uploaded set is read at once, so a bad line is reported before anything runs."""
    if not path:
        return gr.skip(), gr.skip()
    try:
        items = load_prompt_set(path)
    except UserFacingError as exc:
        return gr.skip(), f"**Cannot use this file:** {exc}"
    return (gr.Dropdown(value=path, choices=[*shipped_prompt_sets(), path]),
            f"Loaded **{len(items)} prompts** from `{Path(path).name}`: press Run batch.")


def refresh_batch_lists():
    specs = known_model_specs()
    return *[gr.Dropdown(choices=specs) for _ in range(3)], gr.Dropdown(choices=unfinished_runs())


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
            models = [gr.Dropdown(choices=known_model_specs(), value=picker.value, label=picker.label,
                                  allow_custom_value=True, elem_id=f"batch-{name}")
                      for picker, name in zip(pickers, ("model-a", "model-b", "judge"))]
        with gr.Row():
            presets = gr.CheckboxGroup(list(PRESETS), value=["p1"], label="Presets", elem_id="batch-presets",
                                       info="each prompt is answered once per preset")
            max_new_tokens = gr.Slider(8, 1024, value=192, step=8, label="max new tokens",
                                       elem_id="batch-max-new-tokens")
            mode = gr.Radio(["single", "pairwise"], value="single", label="Judge mode", elem_id="batch-mode")
            limit = gr.Number(value=0, precision=0, minimum=0, label="Limit", elem_id="batch-limit",
                              info="first N prompts (0 = all)")
        run = gr.Button("Run batch", variant="primary", elem_id="batch-run")
        progress_box = gr.Markdown(elem_id="batch-progress", min_height=64, visible=False)
        status = gr.Markdown("*Not started: pick a prompt set and press Run batch.*", elem_id="batch-status")
        table = gr.Dataframe(headers=BATCH_HEADERS, label="Finished records", interactive=False,
                             elem_id="batch-table")
        with gr.Accordion("Resume an interrupted run", open=False, elem_id="batch-resume-settings"):
            with gr.Row():
                resume_run = gr.Dropdown(choices=unfinished_runs(), value=None, label="Unfinished runs",
                                         info="run folders with run.json but no summary.json", scale=4,
                                         elem_id="batch-resume-run")
                resume = gr.Button("Resume", size="md", scale=0, min_width=140, elem_id="batch-resume")

    outputs = [progress_box, status, table, resume_run]
    run.click(run_batch, [prompt_set, *models, presets, max_new_tokens, mode, limit], outputs, api_name="batch",
              concurrency_limit=1, concurrency_id="batch", show_progress_on=[progress_box])
    resume.click(resume_batch, resume_run, outputs, api_name="resume_batch", concurrency_limit=1,
                 concurrency_id="batch", show_progress_on=[progress_box])
    upload.upload(check_prompt_file, upload, [prompt_set, status], api_visibility="private")
    tab.select(refresh_batch_lists, None, [*models, resume_run], api_visibility="private")


# ---- Results tab -----------------------------------------------------------------------------------------------
def results_tab() -> None:
    """The Results tab: pick a saved run; summary, charts, per-prompt table, answers, compare, history, exports."""
    import tempfile

    from judge import report as run_report
    from judge import results as run_results

    def run_choices():
        return [(info.label(), info.folder) for info in run_results.list_runs()]

    def open_run(name):
        try:
            return run_results.resolve_run(name)
        except UserFacingError as exc:
            raise gr.Error(str(exc)) from exc

    def refresh(current, other):
        choices = run_choices()
        names = [value for _, value in choices]
        keep = current if current in names else (names[0] if names else None)
        return (gr.Dropdown(choices=choices, value=keep),
                gr.Dropdown(choices=choices, value=other if other in names else None))

    def record_choices(run):
        return [f"{rid} · {preset}" for rid, preset in run_results.record_keys(run)]

    def show_run(name, only):
        if not name:
            empty = f"*No run selected. Runs are read from `{run_results._results_dir(None)}`.*"
            return empty, None, None, None, None, [], gr.Dropdown(choices=[], value=None)
        run = open_run(name)
        figs = run_report.figures(run)
        keys = record_choices(run)
        return (run_results.summary_markdown(run), figs["criteria"], figs["wins"], figs["distribution"],
                figs["length"], run_results.prompt_rows(run, only), gr.Dropdown(choices=keys, value=None))

    def filter_rows(name, only):
        return run_results.prompt_rows(open_run(name), only) if name else []

    def show_record(name, key):
        if not name or not key:
            return "", "", ""
        rid, _, preset = key.partition(" · ")
        detail = run_results.record_detail(open_run(name), rid, preset)
        scores = " · ".join(f"{c}: A {a}, B {b}" for c, a, b in detail["scores"])
        text = (f"**Prompt:** {detail['prompt']}\n\n**{detail['verdict']}**  \n{scores}\n\n"
                f"### Judge's reasons\n{detail['reasons']}")
        return detail["answer_A"], detail["answer_B"], text

    def pick_row(evt: gr.SelectData):
        row = evt.row_value or []
        return f"{row[0]} · {row[1]}" if len(row) > 1 else gr.skip()

    def compare_with(name, other):
        if not name or not other:
            return "*Pick a second run to see what changed.*", []
        run1, run2 = open_run(other), open_run(name)
        result = run_results.compare_runs(run1, run2)
        return run_results.compare_markdown(result, run1.name, run2.name), result["changes"]

    def show_history(metric):
        points = run_results.history(None, metric)
        return run_report.history_figure(points, run_results.HISTORY_METRICS[metric])

    def export(name, kind):
        if not name:
            raise gr.Error("pick a run first")
        run = open_run(name)
        out = Path(tempfile.gettempdir()) / "llm-judge-exports" / run.name
        out.mkdir(parents=True, exist_ok=True)
        writers = {"csv": run_report.export_csv, "json": run_report.export_json, "html": run_report.html_report}
        suffix = {"csv": "records.csv", "json": "run.json", "html": "report.html"}[kind]
        return str(writers[kind](run, out / f"{run.name}-{suffix}"))

    choices = run_choices()
    with gr.Tab("Results", elem_id="tab-results") as tab:
        gr.Markdown("Explore a saved run: headline numbers, charts, every prompt with both answers, and how it "
                    "compares with another run. Runs are saved by the Compare and Batch tabs.")
        with gr.Row():
            run_pick = gr.Dropdown(choices=choices, value=choices[0][1] if choices else None, label="Run",
                                   elem_id="results-run", scale=4)
            refresh_button = gr.Button("Refresh list", size="md", scale=0, min_width=140, elem_id="results-refresh")
        summary = gr.Markdown(elem_id="results-summary")
        with gr.Row():
            criteria_plot = gr.Plot(label="Criteria", elem_id="results-criteria")
            wins_plot = gr.Plot(label="Outcomes", elem_id="results-wins")
        with gr.Row():
            dist_plot = gr.Plot(label="Score distribution", elem_id="results-distribution")
            length_plot = gr.Plot(label="Length vs score", elem_id="results-length")
        only = gr.Radio(list(run_results.FILTERS), value="all", label="Show", elem_id="results-filter",
                        info="disagreements: winner differs across presets, a tie, or no verdict · inconsistent: "
                             "the pairwise verdict flipped when the answers were swapped · unparsed: a judge reply "
                             "could not be read")
        table = gr.Dataframe(headers=run_results.PROMPT_HEADERS, label="Per prompt (click a row to see the answers)",
                             interactive=False, elem_id="results-table")
        record_pick = gr.Dropdown(choices=[], label="Prompt", elem_id="results-record")
        with gr.Row():
            answer_a = gr.Textbox(label="Answer A", lines=10, interactive=False, elem_id="results-answer-a")
            answer_b = gr.Textbox(label="Answer B", lines=10, interactive=False, elem_id="results-answer-b")
        detail = gr.Markdown(elem_id="results-detail")
        with gr.Accordion("Compare with another run", open=False, elem_id="results-compare-settings"):
            other = gr.Dropdown(choices=choices, value=None, label="Earlier run (before)", elem_id="results-other")
            compare_md = gr.Markdown(elem_id="results-compare")
            changes = gr.Dataframe(headers=run_results.CHANGE_HEADERS, label="Per prompt changes (before → selected)",
                                   interactive=False, elem_id="results-changes")
        with gr.Accordion("History across runs", open=False, elem_id="results-history-settings"):
            metric = gr.Dropdown(choices=[(v, k) for k, v in run_results.HISTORY_METRICS.items()],
                                 value="win_rate_A", label="Metric", elem_id="results-metric")
            history_plot = gr.Plot(label="History", elem_id="results-history")
        with gr.Accordion("Rank models across runs (Bradley-Terry)", open=False):
            rank_runs = gr.Dropdown(choices=[], multiselect=True, label="Runs to pool (several adapters or presets)",
                                    elem_id="results-rank-runs")
            ranking = gr.Markdown(elem_id="results-ranking")
        with gr.Row():
            csv_button = gr.Button("Export CSV", size="md", elem_id="results-export-csv")
            json_button = gr.Button("Export JSON", size="md", elem_id="results-export-json")
            html_button = gr.Button("Export HTML report", size="md", elem_id="results-export-html")
        download = gr.File(label="Download", interactive=False, elem_id="results-download")

    run_outputs = [summary, criteria_plot, wins_plot, dist_plot, length_plot, table, record_pick]
    private = dict(api_visibility="private")

    def rank(names):
        if not names:
            return "Pick runs whose verdicts involve three or more models (or models at several presets)."
        return run_results.ranking_markdown([run_results.resolve_run(n) for n in names])

    tab.select(lambda: gr.Dropdown(choices=run_choices()), None, rank_runs, **private)
    rank_runs.change(rank, rank_runs, ranking, **private)
    tab.select(refresh, [run_pick, other], [run_pick, other], **private)
    refresh_button.click(refresh, [run_pick, other], [run_pick, other], **private)
    run_pick.change(show_run, [run_pick, only], run_outputs, **private)
    run_pick.change(compare_with, [run_pick, other], [compare_md, changes], **private)
    only.change(filter_rows, [run_pick, only], table, **private)
    table.select(pick_row, None, record_pick, **private)
    record_pick.change(show_record, [run_pick, record_pick], [answer_a, answer_b, detail], **private)
    other.change(compare_with, [run_pick, other], [compare_md, changes], **private)
    metric.change(show_history, metric, history_plot, **private)
    tab.select(show_history, metric, history_plot, **private)
    tab.select(show_run, [run_pick, only], run_outputs, **private)
    for button, kind in ((csv_button, "csv"), (json_button, "json"), (html_button, "html")):
        button.click(functools.partial(export, kind=kind), run_pick, download, **private)


def build_app() -> gr.Blocks:
    model_a_default, model_b_default = pv.default_model_pair()
    with gr.Blocks(title="LLM as a Judge") as demo:
        gr.Markdown(
            "# LLM as a Judge\nPick two models and a judge, write an instruction, and compare the answers on "
            "**relevance, coherence and completeness** (1-4 each, total of 12); or fine-tune an adapter to compare."
        )
        with gr.Tab("Compare", elem_id="tab-compare"):
            with gr.Row():
                model_a = model_picker("Model A", model_a_default)
                model_b = model_picker("Model B", model_b_default)
                judge = model_picker("Judge", DEFAULT_JUDGE)
            prompt = gr.Textbox(label="Instruction", lines=3,
                                placeholder="Type an instruction or pick an example below", elem_id="prompt")
            gr.Examples(examples=[[p] for p in STUDY_PROMPTS], inputs=[prompt], label="Study prompts")
            with gr.Accordion("Sampling", open=True):
                with gr.Row():
                    preset = gr.Radio([*PRESETS, CUSTOM], value="p1", label="Preset",
                                      info="p1: temperature 0.5, min_p 0.05 · p2: temperature 1.5, min_p 0.1")
                    temperature = gr.Slider(0, 2, value=PRESETS["p1"].temperature, step=0.05, label="temperature")
                    min_p = gr.Slider(0, 0.5, value=PRESETS["p1"].min_p, step=0.01, label="min_p")
                    top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="top_p")
                    max_new_tokens = gr.Slider(16, 1024, value=192, step=16, label="max new tokens",
                                               elem_id="max-new-tokens")
                    seed = gr.Number(value=0, precision=0, minimum=0, label="seed")
            with gr.Accordion("Judge", open=False, elem_id="judge-settings"):
                with gr.Row():
                    mode = gr.Radio(
                        ["single", "pairwise"], value="single", label="Mode", elem_id="mode",
                        info="single: each answer graded alone · pairwise: both shown, judged in both orders")
                    swap = gr.Checkbox(value=True, label="Pairwise: also judge with A and B swapped")
                    judge_temperature = gr.Slider(0, 1.5, value=0.0, step=0.05,
                                                  label="judge temperature (0 = greedy)")
                template_text = gr.Code(template_for_mode("single"), language="yaml",
                                        label="Judge template (editable)", lines=14)
            compare_button = gr.Button("Compare", variant="primary", elem_id="compare")
            with gr.Row():
                answer_a = gr.Textbox(label="Answer A", lines=12, interactive=False, elem_id="answer-a")
                answer_b = gr.Textbox(label="Answer B", lines=12, interactive=False, elem_id="answer-b")
            verdict = gr.Markdown(elem_id="verdict")
            scores = gr.Dataframe(headers=SCORE_HEADERS, label="Scores (1-4 per criterion)", interactive=False,
                                  elem_id="scores")
            with gr.Row(elem_id="votes"):
                vote_buttons = {choice: gr.Button(text, size="sm", elem_id=eid)
                                for choice, (text, eid) in VOTE_BUTTONS.items()}
            vote_status = gr.Markdown("*Which answer is better? Your vote is saved with the run.*",
                                      elem_id="vote-status")
            shown_record = gr.State(None)  # {run_dir, id, preset} of the comparison on the page, for the votes
            reasons = gr.Markdown(elem_id="reasons")
            status = gr.Markdown(elem_id="status")
        with gr.Tab("Training", elem_id="tab-training"):
            adapters = training_tab([model_a, model_b, judge])
        batch_tab([model_a, model_b, judge])
        results_tab()

        preset.change(apply_preset, preset, [temperature, min_p], api_visibility="private")
        for slider in (temperature, min_p):
            slider.input(lambda: CUSTOM, None, preset, api_visibility="private")
        mode.change(template_for_mode, mode, template_text, api_visibility="private")
        compare_button.click(
            compare,
            [model_a, model_b, judge, prompt, preset, temperature, min_p, top_p, max_new_tokens, seed,
             mode, template_text, swap, judge_temperature],
            [answer_a, answer_b, verdict, scores, reasons, status, shown_record],
            api_name="compare", concurrency_limit=1,
        )
        compare_button.click(lambda: "*Which answer is better? Your vote is saved with the run.*", None,
                             vote_status, api_visibility="private")
        for choice, button in vote_buttons.items():
            button.click(functools.partial(cast_vote, choice), shown_record, vote_status, api_visibility="private")
        demo.load(refresh_pickers, None, [model_a, model_b, judge], api_visibility="private")
        demo.load(refresh_adapters, adapters, adapters, api_visibility="private")
    return demo


def preload_default_models() -> None:
    """Load the default models in the background so the first click does not wait for the conversion."""
    for spec in dict.fromkeys((*pv.default_model_pair(), DEFAULT_JUDGE)):
        try:
            load_model(spec)
        except UserFacingError as exc:
            print(f"could not preload {spec}: {exc}")


if __name__ == "__main__":
    if os.environ.get("LLM_JUDGE_PRELOAD", "1") == "1":
        threading.Thread(target=preload_default_models, daemon=True).start()
    build_app().queue().launch()
