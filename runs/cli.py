"""`python -m judge compare ...`, the same comparison as the app, from the command line; the commands of higher
layers (the judge lab's `validate` and `distill`, the evals' `test`) join it through `more_commands`, wired in by
judge/__main__.py; one of them may also set `compare_check` on compare's parser (the evals' --gate) to look at the
finished run and decide the exit status."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from analysis.margins import DEFAULT_TIE_BAND
from basics import UserFacingError, check_utf8_arguments, results_dir
from models import DEFAULT_JUDGE_SETTINGS, DEFAULT_PRESET, PRESETS, SamplingSettings, SettingsError, preset_settings
from models.endpoints import with_base_url
from runs.conclusion import closing_lines
from runs.config import (
    DEFAULT_JUDGE,
    DEFAULT_JUDGE_METHOD,
    DEFAULT_MODEL_A,
    DEFAULT_MODEL_B,
    JUDGE_METHODS,
    LONG_PROMPTS,
    MODES,
    CompareConfig,
)
from runs.costs import cost_line, estimate_cost
from runs.pipeline import resume_compare, run_compare
from runs.prompt_sets import load_prompt_set, single_prompt
from runs.store import SUMMARY_FILE, load_run
from runs.summary import with_new_fields
from runs.views import answer_warnings, record_line

# A subcommand from a higher layer: it adds its parser to the subparsers and sets the parser's default `run`, the
# function that takes the parsed arguments and returns the exit status (argparse's set_defaults idiom).
AddCommand = Callable[[argparse._SubParsersAction], None]


def make_parser(more_commands: Sequence[AddCommand] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m judge", description="Compare two models with a judge model.")
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("compare", help="answer prompts with model A and B, judge, save a run folder")
    c.add_argument("--model-a", default=DEFAULT_MODEL_A, help="model spec BASE or BASE+ADAPTER")
    c.add_argument("--model-b", default=DEFAULT_MODEL_B, help="model spec BASE or BASE+ADAPTER")
    c.add_argument("--judge", action="append", dest="judges",
                   help=f"model spec of the judge (default {DEFAULT_JUDGE}); give it several times for a panel: "
                        "majority verdict (pairwise) or mean scores (single), with inter-judge agreement")
    c.add_argument("--base-url", help="base URL for openai:MODEL specs that name none (else $LLM_JUDGE_BASE_URL); "
                                      "the key comes from $LLM_JUDGE_API_KEY only")
    c.add_argument("--concurrency", type=int, default=0,
                   help="prompts in flight at once (default: 8 where a served model takes part, else 1)")
    c.add_argument("--no-cache", action="store_true", help="ask every judge afresh instead of reusing identical "
                                                           "earlier judge calls")
    c.add_argument("--prices", help="price table YAML for the cost estimate (default prompts/prices.yaml)")
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="one instruction")
    source.add_argument("--prompts", help="a prompt set: .jsonl/.csv file or a name in prompts/ (study, general)")
    source.add_argument("--resume", metavar="RUN_DIR", help="finish an interrupted run in its folder")
    c.add_argument("--preset", default=DEFAULT_PRESET,
                   help=f"sampling preset(s) for the answers, comma-separated to compare them: {', '.join(PRESETS)}")
    for name in ("temperature", "min_p", "top_p"):
        c.add_argument(f"--{name.replace('_', '-')}", type=float, help=f"override the preset's {name}")
    c.add_argument("--max-new-tokens", type=int, help="answer length limit")
    c.add_argument("--seed", type=int, help="sampling seed (same seed, settings and backend = same answer)")
    c.add_argument("--mode", choices=MODES, default="single")
    c.add_argument("--template", help="judge template: a name in prompts/ or a YAML file")
    c.add_argument("--no-swap", action="store_true", help="pairwise: judge only in the A/B order")
    c.add_argument("--method", choices=JUDGE_METHODS, default=DEFAULT_JUDGE_METHOD,
                   help="how the judge scores: read its token probabilities, or parse a generated reply; "
                        "auto = probabilities where the judge's backend can")
    c.add_argument("--reasons", action="store_true", help="probabilities method: also ask the judge for reasons")
    c.add_argument("--tie-band", type=float, default=DEFAULT_TIE_BAND,
                   help="band of no difference: a verdict with P(A better) within 0.5 +/- this (or parsed totals less "
                        f"than one scale step apart) is 'too close to call' and counts as a tie (default "
                        f"{DEFAULT_TIE_BAND:g}; 0 = any lead wins)")
    c.add_argument("--judge-temperature", type=float, default=DEFAULT_JUDGE_SETTINGS.temperature,
                   help="0 = greedy, deterministic verdicts (default)")
    c.add_argument("--judge-max-new-tokens", type=int, default=DEFAULT_JUDGE_SETTINGS.max_new_tokens)
    c.add_argument("--out", help="folder in which the run folder is made (default: $LLM_JUDGE_RESULTS or results/)")
    c.add_argument("--limit", type=int, help="only the first N prompts of the set (N >= 1)")
    c.add_argument("--long-prompts", choices=LONG_PROMPTS,
                   help="a prompt longer than a model's context window (with room for the answer): refuse the run "
                        "before any generation (default), or cut the prompt to fit, with a note on its record; "
                        "with --resume, overrides the run's choice")
    c.add_argument("--system", metavar="TEXT", help="system prompt for both models, sent before each prompt (a prompt "
                                                    "set item's own `system` wins); default none: each model's chat "
                                                    "template decides, or a fine-tune gets the one it was trained with")
    c.add_argument("--system-a", metavar="TEXT", help="system prompt for model A only (over --system)")
    c.add_argument("--system-b", metavar="TEXT", help="system prompt for model B only (over --system)")
    for add_command in more_commands:
        add_command(commands)
    return parser


# Flags whose names differ from their argparse dest, for messages that must name what the person typed (methods and
# data are the lab's validate's, checked here with every command's arguments).
FLAG_OF_DEST = {"judges": "--judge", "methods": "--method", "data": "--pairs"}
SETTING_NAMES = ("max_new_tokens", "temperature", "min_p", "top_p", "seed")


def with_flag_names(build, prefix: str = ""):
    """build(), with a settings error naming the command-line flag (--judge-temperature) instead of the setting."""
    try:
        return build()
    except SettingsError as exc:
        text = str(exc)
        name = next((n for n in SETTING_NAMES if text.startswith(n + " ")), None)
        if name is None:
            raise
        raise SettingsError(f"--{prefix}{name.replace('_', '-')}{text[len(name):]}") from exc


def check_limit(limit: int | None, zero_means_all: bool = False) -> None:
    if limit is None or limit > 0 or (zero_means_all and limit == 0):
        return
    wanted = "0 (every row) or more" if zero_means_all else "at least 1 (the number of prompts to run)"
    raise UserFacingError(f"--limit must be {wanted}, got {limit}: nothing to run with fewer; leave --limit out to "
                          "run them all")


def config_from_args(args: argparse.Namespace) -> CompareConfig:
    overrides = dict(temperature=args.temperature, min_p=args.min_p, top_p=args.top_p,
                     max_new_tokens=args.max_new_tokens, seed=args.seed)
    first, *more = [p.strip() for p in args.preset.split(",") if p.strip()] or [DEFAULT_PRESET]
    sampling = with_flag_names(lambda: preset_settings(first, **overrides))
    judge_sampling = with_flag_names(lambda: SamplingSettings(temperature=args.judge_temperature, min_p=0.0,
                                                              max_new_tokens=args.judge_max_new_tokens), "judge-")
    # A different length or seed still samples the preset's way; only the sampling knobs make it custom.
    customised = any(v is not None for v in (args.temperature, args.min_p, args.top_p))
    judge, *more_judges = [with_base_url(j, args.base_url) for j in (args.judges or [DEFAULT_JUDGE])]
    return CompareConfig(
        model_a=with_base_url(args.model_a, args.base_url), model_b=with_base_url(args.model_b, args.base_url),
        judge=judge, more_judges=more_judges, mode=args.mode, concurrency=args.concurrency,
        judge_cache=not args.no_cache, prices=args.prices,
        preset=None if customised else first, sampling=sampling, more_presets=more, judge_sampling=judge_sampling,
        template=args.template, swap=not args.no_swap, out_dir=args.out or str(results_dir()),
        judge_method=args.method, judge_reasons=args.reasons, tie_band=args.tie_band,
        **({"long_prompts": args.long_prompts}
                                                                  if args.long_prompts else {}),
        system_a=args.system if args.system_a is None else args.system_a,
        system_b=args.system if args.system_b is None else args.system_b,
    )


def closing_summary(run_dir) -> list[str]:
    """The lines printed after the last prompt: outcomes, mean totals, ties too close to call, answers cut off, and
    the closing sentence; none for a run that did not finish (no summary.json)."""
    if run_dir is None or not (Path(run_dir) / SUMMARY_FILE).is_file():
        return []
    run = load_run(run_dir)
    band = (run.manifest.get("config") or {}).get("tie_band")
    return closing_lines(with_new_fields(run.summary, run.records), run.rubric.max_total, band, run.rubric.scored)


def main(argv: list[str] | None = None, more_commands: Sequence[AddCommand] = ()) -> int:
    """The CLI; `more_commands` add subcommands from above runs/ (each sets its parser's `run` default)."""
    args = make_parser(more_commands).parse_args(argv)
    run_dir, saved, check = None, 0, None
    try:
        check_utf8_arguments(vars(args), FLAG_OF_DEST,
                             fix=", or write a prompt into a UTF-8 .jsonl file and pass --prompts FILE")
        if args.command != "compare":
            return args.run(args)
        check_limit(args.limit)
        if args.resume is not None and not args.resume.strip():
            raise UserFacingError("--resume needs a run folder: pass the folder the run printed")
        cost, config = None, None
        if not args.resume:
            config = config_from_args(args)
        # A check from above runs/ (set_defaults on compare's parser): given the arguments first, so that bad input
        # stops before any model runs, it returns what to call with the finished run folder for the exit status.
        check = args.compare_check(args, config) if getattr(args, "compare_check", None) else None
        if args.resume:
            updates = resume_compare(args.resume, long_prompts=args.long_prompts)
        else:
            items = [single_prompt(args.prompt)] if args.prompt is not None else load_prompt_set(args.prompts)
            items = items[: args.limit] if args.limit else items
            if len(items) > 1:
                cost = cost_line(estimate_cost(config, items), "estimated cost (every answer at its length limit)")
            updates = run_compare(config, items)
        bar, warned = None, set()

        def say(text: str) -> None:  # above the progress bar, never inside its line
            if bar is not None:
                bar.write(text, file=sys.stderr)
            else:
                print(text, file=sys.stderr, flush=True)

        for update in updates:
            run_dir = update.run_dir
            for note in update.notes:
                say(f"note: {note}")
            if cost and update.stage != "loading":  # once the run has started: a refused start prints one line only
                say(cost)
                cost = None
            if bar is None and update.total > 1 and update.stage != "loading":
                # prompts done, rate and time left; the bar goes to stderr so stdout stays the run folder
                bar = tqdm(total=update.total, initial=update.index, unit="prompt", file=sys.stderr)
            if update.stage == "record":
                saved += 1
                record = update.record
                # each said once, not per record
                for warning in sorted((answer_warnings(record) | set(record.get("warnings") or ())) - warned):
                    warned.add(warning)
                    say(f"note: {warning}")
                say(record_line(update.index, update.total, record))
                if bar is not None:
                    bar.update(1)
            if update.stage == "done" and update.message:
                say(update.message)
        if bar is not None:
            bar.close()
        for line in closing_summary(run_dir):
            print(line, file=sys.stderr)
    except (UserFacingError, KeyboardInterrupt) as exc:
        kept = f" ({saved} finished record(s) are kept in {run_dir}: finish the run with --resume {run_dir})" if (
            saved and run_dir is not None) else ""
        print(f"{'interrupted' if isinstance(exc, KeyboardInterrupt) else 'error: ' + str(exc)}{kept}",
              file=sys.stderr)
        return 130 if isinstance(exc, KeyboardInterrupt) else 2
    print(run_dir)
    if check is None:
        return 0
    try:
        return check(run_dir)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
