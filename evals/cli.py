"""`python -m judge test SUITE --model SPEC` (a suite of evals run as unit tests), `--gate RUN_DIR` on compare and
test, and `python -m judge sweep` (checkpoints against a baseline, evals/sweep.py), added to runs/cli.py's parser by
judge/__main__.py. Exit status: 0 every case passed (and the gate held; a sweep finished), 1 a case or the gate
failed, 2 bad input (one line, from runs/cli.py's main, which also checks the arguments are UTF-8)."""
from __future__ import annotations

import argparse
import sys

from basics import UserFacingError, results_dir
from evals.gate import DEFAULT_GATE_MARGIN, check_margin, gate, open_gate_run
from evals.report import text_report, write_junit
from evals.runner import EvalConfig, run_suite
from evals.suite import SUITES_DIR
from evals.sweep import SweepConfig, run_sweep
from evals.sweep_report import CHART_FILE, text_lines, write_summary
from models import DEFAULT_PRESET, preset_settings
from models.endpoints import with_base_url
from runs.cli import with_flag_names
from runs.config import DEFAULT_JUDGE, JUDGE_METHODS, MODES
from runs.store import load_run

TEST_HELP = f"""Run an eval suite as unit tests: every case's prompt is answered by --model (and --baseline), judged,
and checked against the case's modes; a pytest-like report on stdout, JUnit XML with --junit.

A suite is a YAML file (shipped ones in {SUITES_DIR.relative_to(SUITES_DIR.parents[1])}/, by name): name, cases with id,
prompt, expect (modes that must hold), fail_if (modes that must not), samples and pass_rate. Modes: a check
({{type: contains, value: flour}}, regex, not_contains, min_words, max_words, json), {{min_total: 9}},
{{judge: {{criterion: relevance, at_least: 3}}}}, {{beats_baseline: {{margin: 1}}}}. A verdict the judge's reply
could not give is a failure, never a pass. Exit status 1 when a case fails."""


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gate", metavar="RUN_DIR",
                        help="the last good run (a run folder, or a passing test's --out folder: its sample rounds "
                             "pooled): exit 1 when this run's win rate against the same baseline, or a "
                             "criterion's mean, is worse by more than --gate-margin with its 95%% interval excluding "
                             "no change")
    parser.add_argument("--gate-margin", type=float, default=DEFAULT_GATE_MARGIN,
                        help=f"how much worse is tolerated: a share of win rate, or of a criterion's scale range "
                             f"(default {DEFAULT_GATE_MARGIN:g})")


def add_test_parser(commands) -> None:
    t = commands.add_parser("test", help="run an eval suite as unit tests: report, JUnit XML, exit 1 on a failure",
                            description=TEST_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("suite", metavar="SUITE", help="a suite YAML file, or a shipped suite's name (e.g. study)")
    t.add_argument("--model", required=True, help="the model under test: BASE or BASE+ADAPTER")
    t.add_argument("--baseline", help="the model it must beat for beats_baseline modes (model B of the runs)")
    t.add_argument("--judge", action="append", dest="judges", help=f"judge spec, repeatable for a panel (default "
                                                                   f"{DEFAULT_JUDGE})")
    t.add_argument("--method", choices=JUDGE_METHODS, default="auto", help="how the judge scores (as for compare)")
    t.add_argument("--max-new-tokens", type=int, help="answer length limit, over the suite's settings")
    t.add_argument("--seed", type=int, help="first sample's seed, over the suite's (sample k uses seed + k - 1)")
    t.add_argument("--case", action="append", dest="cases", metavar="ID",
                   help="run only this case (repeatable; default every case)")
    t.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML, for CI systems")
    add_gate_arguments(t)
    t.add_argument("--no-cache", action="store_true", help="ask every judge afresh")
    t.add_argument("--base-url", help="base URL for openai:MODEL specs that name none")
    t.add_argument("--out", help="folder in which the runs' folders are made (default: $LLM_JUDGE_RESULTS or "
                                 "results/)")
    t.set_defaults(run=test_main)


def test_main(args: argparse.Namespace) -> int:
    # The flags' ranges, named as typed (--max-new-tokens), before the suite's settings are laid under them.
    with_flag_names(lambda: preset_settings(DEFAULT_PRESET, max_new_tokens=args.max_new_tokens, seed=args.seed))
    judges = [with_base_url(j, args.base_url) for j in (args.judges or [DEFAULT_JUDGE])]
    config = EvalConfig(suite=args.suite, model=with_base_url(args.model, args.base_url),
                        baseline=with_base_url(args.baseline, args.base_url) if args.baseline else None,
                        judges=judges, judge_method=args.method, max_new_tokens=args.max_new_tokens, seed=args.seed,
                        cases=args.cases or [],
                        judge_cache=not args.no_cache, out_dir=args.out or str(results_dir()))
    old_run = open_gate_run(args.gate, " | ".join(judges)) if gate_given(args) else None  # stops before any run
    check_margin(args.gate_margin)
    result = run_suite(config, say=lambda text: print(text, file=sys.stderr, flush=True))
    print(text_report(result))
    if args.junit:
        write_junit(result, args.junit)
    status = 1 if result.failed else 0
    if old_run is not None:
        verdict = gate(result.records, old_run, args.gate_margin)
        print(verdict.line, file=sys.stderr)
        status = status or (0 if verdict.passed else 1)
    return status


def gate_given(args: argparse.Namespace) -> bool:
    """Whether --gate was given; given empty (an unset variable in a CI script) it is an error, never a gate that
    silently passes."""
    if args.gate is not None and not args.gate.strip():
        raise UserFacingError("--gate needs a run folder: pass the folder a passing run printed (given empty, the "
                              "gate would check nothing)")
    return args.gate is not None


def add_compare_gate(commands) -> None:
    """--gate on the compare command: its parser is already made (runs/cli.py); the check runs after the run."""
    compare = commands.choices["compare"]
    add_gate_arguments(compare)
    compare.set_defaults(compare_check=compare_gate_check)


def compare_gate_check(args: argparse.Namespace, config):
    """The gate's folder and margin checked before compare runs; returns what decides the exit status after it."""
    if not gate_given(args):
        return None
    check_margin(args.gate_margin)
    old_run = open_gate_run(args.gate, config.judge_label if config is not None else None)

    def finish(run_dir) -> int:
        verdict = gate(load_run(run_dir).records, old_run, args.gate_margin)
        print(verdict.line, file=sys.stderr)
        return 0 if verdict.passed else 1

    return finish


SWEEP_HELP = """Judge every checkpoint of a training run (its step-N / checkpoint-N folders in DIR, steps from their
meta.json), or any list of model specs, against a baseline on a prompt set. Each model answers each prompt once per
preset (answers cached in the results folder's .cache/answers/ and reused in every pairing); each pairing is an
ordinary run folder. The sweep folder holds sweep.json (the runs it made), summary.json and sweep.html (win rate and
Bradley-Terry strength by training step, with the loss curve). The sweep folder is printed on stdout."""


def add_sweep_parser(commands) -> None:
    s = commands.add_parser("sweep", help="judge every checkpoint of a training run against a baseline, and rank them",
                            description=SWEEP_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--checkpoints", nargs="+", required=True, metavar="DIR|SPEC",
                   help="a training run's output folder (its checkpoints found), adapter folders, or model specs")
    s.add_argument("--baseline", required=True, help="the model every checkpoint is judged against")
    s.add_argument("--prompts", required=True, help="a prompt set: study, general, or a .jsonl/.csv file")
    s.add_argument("--preset", default=DEFAULT_PRESET, help="sampling preset(s), comma-separated (e.g. p1,p2)")
    s.add_argument("--round-robin", action="store_true", help="also judge every two checkpoints against each other")
    s.add_argument("--judge", action="append", dest="judges", help=f"judge spec, repeatable for a panel (default "
                                                                   f"{DEFAULT_JUDGE})")
    s.add_argument("--mode", choices=MODES, default="single")
    s.add_argument("--template", help="judge template: a name in prompts/ or a YAML file")
    s.add_argument("--method", choices=JUDGE_METHODS, default="auto", help="how the judge scores (as for compare)")
    s.add_argument("--max-new-tokens", type=int, help="answer length limit")
    s.add_argument("--seed", type=int, help="sampling seed of the answers")
    s.add_argument("--limit", type=int, help="only the first N prompts of the set")
    s.add_argument("--no-cache", action="store_true", help="ask every judge afresh (answers are still reused)")
    s.add_argument("--base-url", help="base URL for openai:MODEL specs that name none")
    s.add_argument("--out", help="results folder for the sweep and its runs (default: $LLM_JUDGE_RESULTS or results/)")
    s.set_defaults(run=sweep_main)


def sweep_main(args: argparse.Namespace) -> int:
    with_flag_names(lambda: preset_settings(DEFAULT_PRESET, max_new_tokens=args.max_new_tokens, seed=args.seed))
    url = args.base_url
    config = SweepConfig(checkpoints=[with_base_url(c, url) for c in args.checkpoints],
                         baseline=with_base_url(args.baseline, url), prompts=args.prompts,
                         presets=[p.strip() for p in args.preset.split(",") if p.strip()] or [DEFAULT_PRESET],
                         round_robin=args.round_robin,
                         judges=[with_base_url(j, url) for j in (args.judges or [DEFAULT_JUDGE])], mode=args.mode,
                         template=args.template, judge_method=args.method, max_new_tokens=args.max_new_tokens,
                         seed=args.seed,
                         limit=args.limit, judge_cache=not args.no_cache, out_dir=args.out or str(results_dir()))
    result = run_sweep(config, say=lambda text: print(text, file=sys.stderr, flush=True))
    summary = write_summary(result)
    for line in text_lines(summary):
        print(line, file=sys.stderr)
    print(f"chart: {result.folder / CHART_FILE}", file=sys.stderr)
    print(result.folder)
    return 0


# In the order `python -m judge --help` lists them, after compare and the lab's.
EVAL_COMMANDS = (add_test_parser, add_sweep_parser, add_compare_gate)
