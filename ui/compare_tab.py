"""The Compare tab: two models and a judge on one instruction, answers streamed, scores, reasons, people's votes."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from basics import UserFacingError
from judge.rubric import Rubric
from judge.templates import DEFAULT_TEMPLATES, default_template, load_template, template_names
from lab.trust import trust_line
from models import DEFAULT_JUDGE_SETTINGS, DEFAULT_PRESET, PRESETS, SamplingSettings
from models.endpoints import with_base_url
from models.settings import matching_preset
from runs.config import (
    DEFAULT_JUDGE,
    DEFAULT_JUDGE_METHOD,
    DEFAULT_LONG_PROMPTS,
    DEFAULT_TIE_BAND,
    JUDGE_METHODS,
    LONG_PROMPTS,
    MODES,
    SEED_SPACE_PAIR,
    CompareConfig,
)
from runs.judge_options import judge_options, pair_line
from runs.one_thread import stepped_in_one_thread
from runs.pipeline import run_compare
from runs.progress import STAGE_TEXT
from runs.prompt_sets import DEFAULT_PROMPT_SET, load_prompt_set, single_prompt
from runs.public import app_concurrency, hide_server_paths, public_gate, visitor_slot
from runs.store import read_manifest
from runs.views import (
    SCORE_HEADERS,
    answer_label,
    as_text,
    notices_line,
    reasons_markdown,
    score_rows,
    scores_label,
    served_by_line,
    timings_line,
    verdict_line,
)
from runs.votes import VOTES_FILE, record_vote
from ui.inputs import checked_choice, checked_flag, checked_number, checked_text, checked_texts
from ui.widgets import (
    AS_SENT,
    PRIVATE,
    base_url_box,
    cache_box,
    long_prompts_choice,
    longest_answer,
    model_picker,
    panel_picker,
    picker_help,
    system_prompt_boxes,
    user_error,
    visitor,
)
from ui.zerogpu import compare_seconds, gpu_handler

CUSTOM = "custom"
VOTE_BUTTONS = {"A": ("A is better", "vote-a"), "B": ("B is better", "vote-b"), "tie": ("Tie", "vote-tie"),
                "both_bad": ("Both are bad", "vote-bad")}
VOTE_PROMPT = "*Which answer is better? Your vote is saved with the run.*"


@dataclass
class CompareTab:
    """The widgets other tabs and the app wire to."""

    pickers: list  # Model A, Model B, Judge dropdowns


def apply_preset(name: str):
    if name not in PRESETS:
        return gr.skip(), gr.skip()
    return PRESETS[name].temperature, PRESETS[name].min_p


def mode_templates(mode: str) -> tuple[list[str], str, str]:
    """(the names of `mode`'s templates, a shared app's shipped ones only; the mode's default name; its YAML)."""
    names = template_names(mode, shipped_only=public_gate() is not None)
    return names, DEFAULT_TEMPLATES[mode], default_template(mode).to_yaml()


def template_for_mode(mode: str) -> tuple:
    """The template picker offering `mode`'s templates with the mode's default picked, and the default's YAML."""
    names, default, text = mode_templates(mode)
    return gr.Dropdown(choices=names, value=default), text


def picked_template(name: str | None):
    """The YAML of the template picked by name (e.g. prometheus_absolute), into the box where it can be edited."""
    if not name:
        return gr.skip()
    try:
        return load_template(name).to_yaml()
    except UserFacingError as exc:
        raise user_error(exc) from exc


@gpu_handler(compare_seconds)
def compare(model_a, model_b, judge, prompt, preset, temperature, min_p, top_p, max_new_tokens, seed,
            mode, template_text, swap, judge_temperature, judge_method=DEFAULT_JUDGE_METHOD, judge_reasons=True,
            more_judges=None, base_url="", judge_cache=True, long_prompts=DEFAULT_LONG_PROMPTS, system_a="",
            system_b="", tie_band=DEFAULT_TIE_BAND, request: gr.Request = None):
    """Two models answer one instruction and a judge scores both answers (streamed: both answers, then the judge's
    scores); every call is saved as a run folder.

    Args:
        model_a: Model A's spec: BASE or BASE+ADAPTER (an embedded alias such as smollm2-135m-gguf, a hub id, a local
            folder or .gguf file, or openai:MODEL@URL for a served model).
        model_b: Model B's spec, in the same forms.
        judge: the judge's spec (default smollm2-135m-judge, a trained scoring judge).
        prompt: the instruction both models answer.
        preset: the sampling preset: p1 (temperature 0.5, min_p 0.05), p2 (1.5, 0.1) or custom.
        temperature: sampling temperature of both answers (0-2).
        min_p: min_p truncation of both answers (0-0.5).
        top_p: top_p truncation of both answers (0.05-1).
        max_new_tokens: the longest answer, in tokens.
        seed: the sampling seed (the same seed and settings give the same answer).
        mode: single (each answer graded alone) or pairwise (both shown, judged in both orders).
        template_text: a judge template's YAML; empty for the mode's shipped template.
        swap: pairwise mode: also judge with the answers swapped (cancels position bias).
        judge_temperature: the judge's temperature (0 = greedy).
        judge_method: auto, probabilities (expected scores from token probabilities) or parsed (a written reply).
        judge_reasons: probabilities method: also ask the judge for reasons, after its scores are fixed.
        more_judges: more judge specs, making a panel with the judge (majority verdict or mean scores).
        base_url: the server for openai:MODEL specs that name none.
        judge_cache: answer identical judge calls from the on-disk cache.
        long_prompts: refuse or truncate a prompt longer than a model's context window.
        system_a: a system prompt for Model A ("" for none).
        system_b: a system prompt for Model B ("" for none).
        tie_band: the band of no difference: P(A better) within 0.5 plus or minus this is a tie.

    Returns:
        Answer A, answer B, the verdict, the score table, the judge's reasons, the trust and timing lines, and the
        record's place (run folder, id, preset).
    """
    try:
        with visitor_slot(visitor(request)):
            yield from _compare(model_a, model_b, judge, prompt, preset, temperature, min_p, top_p, max_new_tokens,
                                seed, mode, template_text, swap, judge_temperature, judge_method, judge_reasons,
                                more_judges, base_url, judge_cache, long_prompts, system_a, system_b, tie_band)
    except UserFacingError as exc:
        # Answers already streamed stay on the page; the error stays too, next to them, after the pop-up fades.
        failed = as_text(hide_server_paths(str(exc)))
        yield gr.skip(), gr.skip(), "### Not compared", gr.skip(), gr.skip(), f"**Failed:** {failed}", gr.skip()
        raise user_error(exc) from exc


def _compare(model_a, model_b, judge, prompt, preset, temperature, min_p, top_p, max_new_tokens, seed,
             mode, template_text, swap, judge_temperature, judge_method, judge_reasons, more_judges, base_url,
             judge_cache, long_prompts, system_a, system_b, tie_band=DEFAULT_TIE_BAND):
    """The comparison itself; a shared app checks the request against its allow-list and limits first."""
    answer_a = answer_b = ""
    sampling = SamplingSettings(temperature=checked_number(temperature, "temperature"),
                                min_p=checked_number(min_p, "min_p"), top_p=checked_number(top_p, "top_p"),
                                max_new_tokens=checked_number(max_new_tokens, "max new tokens", whole=True),
                                seed=checked_number(seed, "seed", whole=True))
    specs = [checked_text(model_a, "Model A"), checked_text(model_b, "Model B"), checked_text(judge, "Judge"),
             *checked_texts(more_judges, "More judges")]
    served = [with_base_url(spec, checked_text(base_url, "the base URL")) for spec in specs]
    config = CompareConfig(
        model_a=served[0], model_b=served[1], judge=served[2], more_judges=served[3:],
        mode=checked_choice(mode, "mode", MODES),
        judge_cache=checked_flag(judge_cache, "the judge cache", True),
        preset=matching_preset(checked_choice(preset, "preset", [*PRESETS, CUSTOM], CUSTOM), sampling),
        sampling=sampling, judge_sampling=DEFAULT_JUDGE_SETTINGS.with_(
            temperature=checked_number(judge_temperature, "judge temperature")),
        template_text=checked_text(template_text, "the judge template"), swap=checked_flag(swap, "swap", True),
        judge_method=checked_choice(judge_method, "judge method", JUDGE_METHODS, DEFAULT_JUDGE_METHOD),
        judge_reasons=checked_flag(judge_reasons, "reasons", True),
        long_prompts=checked_choice(long_prompts or None, "long prompts", LONG_PROMPTS, DEFAULT_LONG_PROMPTS),
        system_a=checked_text(system_a, "the system prompt for Model A"),
        system_b=checked_text(system_b, "the system prompt for Model B"),
        tie_band=checked_number(tie_band, "the tie band", default=DEFAULT_TIE_BAND),
    )
    item = single_prompt(checked_text(prompt, "the instruction"))
    if gate := public_gate():
        gate.policy.check_compare(config, [item])
    record = None
    for update in stepped_in_one_thread(run_compare(config, [item], label="app")):
        answer_a, answer_b = update.answer_a or answer_a, update.answer_b or answer_b
        if update.stage in STAGE_TEXT:
            doing = update.message if update.stage == "loading" else STAGE_TEXT[update.stage]
            yield answer_a, answer_b, f"*{doing}*", gr.skip(), gr.skip(), gr.skip(), None
        elif update.stage == "record":
            record = update.record
    if record["status"] == "failed":
        raise UserFacingError(f"{record['error']} (kept as a failed record in {update.run_dir}: resume it from "
                              "the Batch tab)")
    served_by = served_by_line(read_manifest(update.run_dir)["models"], record)
    if notices := notices_line(record):
        served_by = f"{notices}  \n{served_by}"
    # The last yield carries every value, so API clients get the whole result rather than "skip" markers.
    yield (answer_a, answer_b, f"### {verdict_line(record)}", score_rows(record),
           f"#### The judge's reasons\n{reasons_markdown(record, template_text)}",
           hide_server_paths(f"{trust_line(record)}  \n{timings_line(record)}  \n{served_by}  \n"
                             f"Saved to `{update.run_dir}`"),
           {"run_dir": str(update.run_dir), "id": record["id"], "preset": record["preset"],
            "rubric": record["rubric"], "mode": record["mode"],
            "answer_labels": [answer_label(record, side) for side in ("A", "B")]})


def label_answers(shown: dict | None):
    """An answer stopped at the token limit says so in its box's label: "cut off at N tokens" (a label only, so API
    clients still get the answers' text)."""
    labels = (shown or {}).get("answer_labels") or [answer_label(None, side) for side in ("A", "B")]
    return tuple(gr.Textbox(label=label) for label in labels)


def judge_settings(judge: str, method: str, editable: bool = True) -> tuple:
    """The judge settings switched on or off for the judge picked (runs/judge_options.py), and the note saying why;
    a scoring judge is judged single (it scores each answer alone)."""
    options = judge_options(judge, method)
    writes = options.writes
    return (gr.Radio(interactive=writes, **({"value": "single"} if options.scoring else {})),
            gr.Checkbox(interactive=writes), gr.Slider(interactive=writes), gr.Radio(interactive=writes),
            gr.Checkbox(interactive=options.reasons),
            gr.Code(interactive=editable and writes, label=template_label(editable, writes)), options.note,
            gr.Dropdown(interactive=writes))


def template_label(editable: bool, writes: bool) -> str:
    if not writes:
        return ("Judge template (its wording is not read by a scoring judge: a reward head needs its criteria and "
                "scale, a reward model takes its scale for its one criterion, preference)")
    return "Judge template (editable)" if editable else "Judge template"


def label_scores(shown: dict | None):
    """The score table's caption names the scale of the template the record was judged with."""
    if not shown:
        return gr.skip()
    return gr.Dataframe(label=scores_label(Rubric.from_dict(shown["rubric"]), shown.get("mode", "single")))


def cast_vote(choice: str, shown: dict | None) -> str:
    """Save a person's vote on the record just shown (the compare click keeps its run folder and id)."""
    if not shown:
        raise user_error("Nothing to vote on yet: run a comparison first, then vote on its answers.")
    try:
        record_vote(shown["run_dir"], shown["id"], choice, preset=shown.get("preset"))
    except UserFacingError as exc:
        raise user_error(exc) from exc
    return hide_server_paths(f"Vote saved: **{VOTE_BUTTONS[choice][0]}** (`{Path(shown['run_dir']) / VOTES_FILE}`)")


def compare_tab(model_a_default: str, model_b_default: str) -> CompareTab:
    """The Compare tab's widgets and events (called inside gr.Blocks)."""
    default_rubric = default_template("single").rubric
    editable = public_gate() is None  # a shared app judges with the shipped templates only
    judging = judge_options(DEFAULT_JUDGE, DEFAULT_JUDGE_METHOD)
    with gr.Tab("Compare", elem_id="tab-compare"):
        # Instruction and Compare first, so the button is on a laptop's first screen (1366x900); the models in one
        # row under them, with their help once; what hardly anyone changes under "Advanced".
        prompt = gr.Textbox(label="Instruction", lines=3, placeholder="Type an instruction or pick an example below",
                            elem_id="prompt", max_length=public_gate().policy.limits.prompt_chars if public_gate()
                            else None)
        compare_button = gr.Button("Compare", variant="primary", elem_id="compare")
        with gr.Row(elem_id="pickers"):
            seed_pair = SEED_SPACE_PAIR if public_gate() is None else ()  # a shared app offers its allow-list only
            model_a = model_picker("Model A", model_a_default, extra=seed_pair, info=False, answering=True)
            model_b = model_picker("Model B", model_b_default, extra=seed_pair, info=False, answering=True)
            judge = model_picker("Judge", DEFAULT_JUDGE, info=False)
        if line := pair_line(model_a_default, model_b_default, shared=not editable):
            gr.Markdown(line, elem_id="pair-line")
        picker_help("picker-help")
        study_prompts = [item.prompt for item in load_prompt_set(DEFAULT_PROMPT_SET)]
        gr.Examples(examples=[[p] for p in study_prompts], inputs=[prompt], label="Study prompts")
        if seed_pair:
            gr.Examples(examples=[[*seed_pair, study_prompts[0]]], inputs=[model_a, model_b, prompt],
                        label="Hub models: the seed Space's pair (float16 GGUF files, ~6.4 GB each to download)")
        with gr.Accordion("Advanced: more judges (a panel), a base URL for served models", open=False,
                          elem_id="advanced"):
            with gr.Row():
                more_judges = panel_picker("compare-more-judges")
                base_url = base_url_box("compare-base-url")
        system_a, system_b = system_prompt_boxes()
        with gr.Accordion("Sampling", open=True):
            with gr.Row():
                preset = gr.Radio([*PRESETS, CUSTOM], value=DEFAULT_PRESET, label="Preset", elem_id="preset",
                                  min_width=270,  # its three choices on one line
                                  info="p1: temperature 0.5, min_p 0.05 · p2: temperature 1.5, min_p 0.1")
                temperature = gr.Slider(0, 2, value=PRESETS[DEFAULT_PRESET].temperature, step=0.05,
                                        label="temperature")
                min_p = gr.Slider(0, 0.5, value=PRESETS[DEFAULT_PRESET].min_p, step=0.01, label="min_p")
                top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="top_p")
                max_new_tokens = gr.Slider(16, longest_answer(), value=192, step=16, label="max new tokens",
                                           elem_id="max-new-tokens")
                seed = gr.Number(value=0, precision=0, minimum=0, label="seed")
            long_prompts = long_prompts_choice("long-prompts")  # its own line: in the row it squeezed the sliders
        with gr.Accordion("Judge", open=False, elem_id="judge-settings"):
            # Settings that do nothing for the chosen judge are switched off, and this note says why.
            judge_note = gr.Markdown(judging.note, elem_id="judge-settings-note")
            with gr.Row():
                mode = gr.Radio(list(MODES), value="single", label="Mode", elem_id="mode", interactive=judging.writes,
                                info="single: each answer graded alone · pairwise: both shown, judged in both orders")
                swap = gr.Checkbox(value=True, label="Pairwise: also judge with A and B swapped", elem_id="swap",
                                   interactive=judging.writes)
                judge_temperature = gr.Slider(0, 1.5, value=0.0, step=0.05, label="judge temperature (0 = greedy)",
                                              elem_id="judge-temperature", interactive=judging.writes)
            with gr.Row():
                judge_method = gr.Radio(list(JUDGE_METHODS), value=DEFAULT_JUDGE_METHOD, label="Judge method",
                                        elem_id="judge-method", interactive=judging.writes,
                                        info="probabilities: scores are expected values of the judge's token "
                                             "probabilities · parsed: the judge writes a reply that is parsed · "
                                             "auto: probabilities where the judge's backend can")
                judge_reasons = gr.Checkbox(value=True, label="Ask the judge for reasons (probabilities method; "
                                                              "asked after the scores are fixed)",
                                            elem_id="judge-reasons", interactive=judging.reasons)
                judge_cache = cache_box("compare-judge-cache")
                tie_band = gr.Slider(0, 0.45, value=DEFAULT_TIE_BAND, step=0.01, label="Tie band (too close to call)",
                                     elem_id="tie-band",
                                     info="a verdict with P(A better) within 50% ± this, or written totals less than "
                                          "one point apart, is a tie; 0 = any lead wins")
            names, default_name, default_text = mode_templates("single")
            template_pick = gr.Dropdown(choices=names, value=default_name, label="Template",
                                        elem_id="judge-template-pick", interactive=judging.writes,
                                        info="the mode's templates by name (e.g. prometheus_absolute, Prometheus 2's "
                                             "format); the YAML below is what the judge gets")
            template_text = gr.Code(default_text, language="yaml", lines=14, elem_id="judge-template",
                                    interactive=editable and judging.writes,
                                    label=template_label(editable, judging.writes))
        with gr.Row():
            answer_a = gr.Textbox(label="Answer A", lines=12, interactive=False, elem_id="answer-a")
            answer_b = gr.Textbox(label="Answer B", lines=12, interactive=False, elem_id="answer-b")
        # The verdict, then how far to trust it and what failed (status), the scores and the judge's reasons under
        # their heading, and only then a person's vote on it.
        verdict = gr.Markdown(elem_id="verdict")
        status = gr.Markdown(elem_id="status")
        scores = gr.Dataframe(headers=SCORE_HEADERS, label=scores_label(default_rubric), interactive=False,
                              elem_id="scores")
        reasons = gr.Markdown(elem_id="reasons")
        with gr.Row(elem_id="votes"):
            vote_buttons = {choice: gr.Button(text, size="sm", elem_id=eid, interactive=False)  # until a comparison
                            for choice, (text, eid) in VOTE_BUTTONS.items()}
        vote_status = gr.Markdown(VOTE_PROMPT, elem_id="vote-status")
        shown_record = gr.State(None)  # {run_dir, id, preset} of the comparison on the page, for the votes

    preset.change(apply_preset, preset, [temperature, min_p], **PRIVATE)
    for slider in (temperature, min_p):
        slider.input(lambda: CUSTOM, None, preset, **PRIVATE)
    mode.change(template_for_mode, mode, [template_pick, template_text], **PRIVATE)
    template_pick.input(picked_template, template_pick, template_text, **PRIVATE)
    for changed in (judge, judge_method):
        changed.change(functools.partial(judge_settings, editable=editable), [judge, judge_method],
                       [mode, swap, judge_temperature, judge_method, judge_reasons, template_text, judge_note,
                        template_pick],
                       **PRIVATE)
    # No stale "cut off" from the last comparison: registered first and not queued, so it runs before the comparison.
    compare_button.click(lambda: label_answers(None), None, [answer_a, answer_b], queue=False, **PRIVATE)
    compare_button.click(
        compare,
        [model_a, model_b, judge, prompt, preset, temperature, min_p, top_p, max_new_tokens, seed,
         mode, template_text, swap, judge_temperature, judge_method, judge_reasons, more_judges, base_url,
         judge_cache, long_prompts, system_a, system_b, tie_band],
        [answer_a, answer_b, verdict, scores, reasons, status, shown_record],
        api_name="compare", concurrency_limit=app_concurrency(), **AS_SENT,
    ).then(label_scores, shown_record, scores, **PRIVATE).then(
        label_answers, shown_record, [answer_a, answer_b], **PRIVATE).success(
        lambda: [gr.Button(interactive=True)] * len(vote_buttons), None, list(vote_buttons.values()), **PRIVATE)
    compare_button.click(lambda: VOTE_PROMPT, None, vote_status, **PRIVATE)
    for choice, button in vote_buttons.items():
        button.click(functools.partial(cast_vote, choice), shown_record, vote_status, **PRIVATE)
    return CompareTab(pickers=[model_a, model_b, judge])
