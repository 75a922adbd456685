"""The Results tab: pick a saved run; summary, charts, per-prompt table, answers, compare, history, ranking, exports."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from basics import UserFacingError, results_dir
from dashboard.charts import figures
from dashboard.diff import CHANGE_HEADERS, compare_markdown, compare_runs
from dashboard.eval_history import ALL_METRICS, history_view
from dashboard.exports import export_run
from dashboard.filters import FILTERS, PROMPT_HEADERS, prompt_table, record_detail, record_keys
from dashboard.ranking import ranking_markdown
from dashboard.summary_text import summary_markdown
from runs.public import hide_server_paths, public_gate
from runs.store import list_runs, resolve_run
from runs.views import as_text
from ui.widgets import PRIVATE, user_error

# ?run=NAME opens the Results tab on that run (after open_run_link has picked it, so the tab's refresh keeps it).
SELECT_LINKED_RUN = ("() => { if (new URLSearchParams(window.location.search).get('run')) "
                     "document.querySelector('#tab-results-button')?.click(); }")


@dataclass
class ResultsTab:
    link_outputs: list  # what open_run_link fills: the run picker and the person's pick
    open_link: Callable


def open_run_link(request: gr.Request):
    """?run=NAME: that run picked in the Results tab, as if the person had picked it; a name the list does not hold
    (a path, a run elsewhere) changes nothing here (the banner above the tabs says why)."""
    name = ((request.query_params.get("run") if request else None) or "").strip()
    if not name or name not in [value for _, value in run_choices()]:
        return gr.skip(), gr.skip()
    return gr.Dropdown(value=name), name


def run_choices(infos=None):
    return [(info.label(), info.folder) for info in (list_runs() if infos is None else infos)]


def latest_finished_run(infos) -> str | None:
    """The run the tab opens on: the newest finished one, else the newest."""
    return next((i.folder for i in infos if i.finished), infos[0].folder if infos else None)


def open_run(name):
    try:
        if gate := public_gate():  # a shared app opens runs in its results folder only
            name = gate.policy.check_run(name)
        return resolve_run(name)
    except UserFacingError as exc:
        raise user_error(exc) from exc


def refresh(current, other, chosen=None):
    """The run lists read now (a run saved since the page opened is there); the tab opens on the newest finished
    run unless the person picked one themselves (`chosen`), which it keeps while it exists; the earlier-run list
    never offers the selected run itself (a diff of all +0). Where the run shown stays, no value is sent: a refresh
    asked before the person picked a run can answer after the pick, and would put the old one back."""
    infos = list_runs()  # read once: listing reads every run's records
    choices = run_choices(infos)
    names = [value for _, value in choices]
    keep = current if chosen and current == chosen and current in names else latest_finished_run(infos)
    # The value stays as it is where it would not change: a run picked while this refresh ran is not put back.
    runs = gr.Dropdown(choices=choices) if keep == current else gr.Dropdown(choices=choices, value=keep)
    return runs, earlier_runs(keep, other, choices)


def earlier_runs(current, other, choices=None):
    others = [(label, name) for label, name in (choices or run_choices()) if name != current]
    return gr.Dropdown(choices=others, value=other if other in [n for _, n in others] else None)


def record_choices(run):
    return [f"{rid} · {preset}" for rid, preset in record_keys(run)]


def show_run(name, only):
    if not name:
        empty = hide_server_paths(f"*No run selected. Runs are read from `{results_dir()}`.*")
        return empty, None, None, None, None, [], gr.Dropdown(choices=[], value=None)
    run = open_run(name)
    figs = figures(run)
    keys = record_choices(run)
    return (summary_markdown(run), figs["criteria"], figs["wins"], figs["distribution"],
            figs["length"], table_of(run, only), gr.Dropdown(choices=keys, value=None))


def table_of(run, only):
    headers, rows = prompt_table(run, only)
    return gr.Dataframe(value=rows, headers=headers)


def filter_rows(name, only):
    return table_of(open_run(name), only) if name else []


def show_record(name, key):
    if not name or not key:
        return "", "", ""
    rid, _, preset = key.partition(" · ")
    detail = record_detail(open_run(name), rid, preset)
    scores = " · ".join(f"{c}: A {a}, B {b}" for c, a, b in detail["scores"])
    text = (f"**Prompt:** {as_text(detail['prompt'])}\n\n**{detail['verdict']}**  \n{scores}  \n"
            f"{detail['trust']}\n\n"
            f"### Judge's reasons\n{detail['reasons']}")
    return detail["answer_A"], detail["answer_B"], text


def pick_row(evt: gr.SelectData):
    row = evt.row_value or []
    return f"{row[0]} · {row[1]}" if len(row) > 1 else gr.skip()


def compare_with(name, other):
    if not name or not other:
        return "*Pick a second run to see what changed.*", []
    run1, run2 = open_run(other), open_run(name)
    result = compare_runs(run1, run2)
    return compare_markdown(result, run1.name, run2.name), result["changes"]


def show_history(metric):
    """The metric's history across runs, suites or sweeps, and which judges judged them (a warning where they
    differ)."""
    return history_view(metric)


def export(name, kind):
    if not name:
        raise user_error("pick a run first")
    return str(export_run(open_run(name), kind))


# The exports are the tab's API (and MCP tools, named and described by these functions).
def export_csv(name):
    """A saved run's records as a CSV file, one row per prompt and preset.

    Args:
        name: the run's folder name, as the Results tab lists it
    """
    return export(name, "csv")


def export_json(name):
    """A saved run as one JSON file: its manifest, summary and every record.

    Args:
        name: the run's folder name, as the Results tab lists it
    """
    return export(name, "json")


def export_report(name):
    """A saved run's single-file HTML report (charts, every prompt with both answers), readable offline.

    Args:
        name: the run's folder name, as the Results tab lists it
    """
    return export(name, "html")


def rank(names):
    if not names:
        return "Pick runs whose verdicts involve three or more models (or models at several presets)."
    return ranking_markdown([open_run(n) for n in names])


def results_tab() -> ResultsTab:
    """The Results tab's widgets and events (called inside gr.Blocks); what a ?run= link sets."""
    infos = list_runs()
    choices = run_choices(infos)
    with gr.Tab("Results", elem_id="tab-results") as tab:
        gr.Markdown("Explore a saved run: headline numbers, charts, every prompt with both answers, and how it "
                    "compares with another run. Runs are saved by the Compare and Batch tabs.")
        with gr.Row():
            opened = latest_finished_run(infos)
            run_pick = gr.Dropdown(choices=choices, value=opened, label="Run", allow_custom_value=True,
                                   elem_id="results-run", scale=4)
            refresh_button = gr.Button("Refresh list", size="md", scale=0, min_width=140, elem_id="results-refresh")
        summary = gr.Markdown(elem_id="results-summary")
        with gr.Row():
            criteria_plot = gr.Plot(label="Criteria", elem_id="results-criteria")
            wins_plot = gr.Plot(label="Outcomes", elem_id="results-wins")
        with gr.Row():
            dist_plot = gr.Plot(label="Score distribution", elem_id="results-distribution")
            length_plot = gr.Plot(label="Length vs score", elem_id="results-length")
        only = gr.Radio(list(FILTERS), value="all", label="Show", elem_id="results-filter",
                        info="disagreements: winner differs across presets, a tie, or no verdict · inconsistent: "
                             "the pairwise verdict flipped when the answers were swapped · unparsed: a judge reply "
                             "could not be read")
        table = gr.Dataframe(headers=PROMPT_HEADERS, label="Per prompt (click a row to see the answers)",
                             interactive=False, elem_id="results-table")
        record_pick = gr.Dropdown(choices=[], label="Prompt", elem_id="results-record")
        with gr.Row():
            answer_a = gr.Textbox(label="Answer A", lines=10, interactive=False, elem_id="results-answer-a")
            answer_b = gr.Textbox(label="Answer B", lines=10, interactive=False, elem_id="results-answer-b")
        detail = gr.Markdown(elem_id="results-detail")
        with gr.Accordion("Compare with another run", open=False, elem_id="results-compare-settings"):
            other = gr.Dropdown(choices=[c for c in choices if c[1] != opened], value=None,
                                label="Earlier run (before)", elem_id="results-other")
            compare_md = gr.Markdown(elem_id="results-compare")
            changes = gr.Dataframe(headers=CHANGE_HEADERS, label="Per prompt changes (before → selected)",
                                   interactive=False, elem_id="results-changes")
        with gr.Accordion("History across runs", open=False, elem_id="results-history-settings"):
            metric = gr.Dropdown(choices=[(v, k) for k, v in ALL_METRICS.items()],
                                 value="win_rate_A", label="Metric", elem_id="results-metric")
            history_plot = gr.Plot(label="History", elem_id="results-history")
            history_note = gr.Markdown(elem_id="results-history-note")
        with gr.Accordion("Rank models across runs (Bradley-Terry)", open=False):
            rank_runs = gr.Dropdown(choices=[], multiselect=True, label="Runs to pool (several adapters or presets)",
                                    elem_id="results-rank-runs")
            ranking = gr.Markdown(elem_id="results-ranking")
        with gr.Row():
            csv_button = gr.Button("Export CSV", size="md", elem_id="results-export-csv")
            json_button = gr.Button("Export JSON", size="md", elem_id="results-export-json")
            html_button = gr.Button("Export HTML report", size="md", elem_id="results-export-html")
        download = gr.File(label="Download", interactive=False, elem_id="results-download")
        chosen = gr.State(None)  # the run the person picked themselves; inside the tab, so gr.Tabs holds tabs only

    run_outputs = [summary, criteria_plot, wins_plot, dist_plot, length_plot, table, record_pick]
    private = PRIVATE

    tab.select(lambda: gr.Dropdown(choices=run_choices()), None, rank_runs, **private)
    rank_runs.change(rank, rank_runs, ranking, **private)
    # Read the lists first, then draw the run picked: drawing in parallel could paint a stale (empty) pick last.
    # Only a pick the person made sticks: the run the page opened on gives way to one saved since (their compare).
    run_pick.input(lambda name: name, run_pick, chosen, **private)
    tab.select(refresh, [run_pick, other, chosen], [run_pick, other], **private).then(
        show_run, [run_pick, only], run_outputs, **private)
    refresh_button.click(refresh, [run_pick, other, chosen], [run_pick, other], **private)
    run_pick.change(show_run, [run_pick, only], run_outputs, **private)
    run_pick.change(earlier_runs, [run_pick, other], other, **private)
    run_pick.change(compare_with, [run_pick, other], [compare_md, changes], **private)
    only.change(filter_rows, [run_pick, only], table, **private)
    table.select(pick_row, None, record_pick, **private)
    record_pick.change(show_record, [run_pick, record_pick], [answer_a, answer_b, detail], **private)
    other.change(compare_with, [run_pick, other], [compare_md, changes], **private)
    metric.change(show_history, metric, [history_plot, history_note], **private)
    tab.select(show_history, metric, [history_plot, history_note], **private)
    # The exports are the tab's API: a run saved after the page was built can be named (the list is read when asked).
    for button, handler in ((csv_button, export_csv), (json_button, export_json), (html_button, export_report)):
        button.click(handler, run_pick, download, api_name=handler.__name__)
    return ResultsTab(link_outputs=[run_pick, chosen], open_link=open_run_link)
