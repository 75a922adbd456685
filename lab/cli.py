"""`python -m judge validate ...` (judges measured against gold labels) and `python -m judge distill ...` (a scoring
judge trained on a teacher's labels): the judge lab's subcommands, added to runs/cli.py's parser by judge/__main__.py
(runs/ cannot import the lab above it). Errors, exit codes and the UTF-8 check are runs/cli.py's main's."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from basics import PROMPTS_DIR, UserFacingError, results_dir, take_cache_notices
from lab.distill import GOLD, DistillConfig, registered_judges_dir, run_distill
from lab.validation import VALIDATION_MODES, ValidationConfig, run_validation
from models.endpoints import with_base_url
from runs.cli import check_limit
from runs.config import DEFAULT_JUDGE, JUDGE_METHODS


def add_validate_parser(commands) -> None:
    v = commands.add_parser("validate", help="measure judges against gold labels: per-row verdicts and metrics.json",
                            description=VALIDATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("--pairs", "--data", dest="data", required=True,
                   help="labelled JSONL (pairs, scores or classes), a file in prompts/validation/, or a run folder "
                        "whose votes are the gold labels")
    v.add_argument("--judge", action="append", dest="judges", help=f"judge spec, repeatable (default {DEFAULT_JUDGE})")
    v.add_argument("--method", action="append", dest="methods", choices=JUDGE_METHODS,
                   help="repeatable; default auto (probabilities where the judge can)")
    v.add_argument("--mode", choices=VALIDATION_MODES, default="pairwise")
    v.add_argument("--template", help="judge template: a name in prompts/ (e.g. toxicity) or a YAML file")
    v.add_argument("--no-swap", action="store_true", help="pairwise: judge only in the A/B order")
    v.add_argument("--limit", type=int, default=0, help="only the first N rows")
    v.add_argument("--panel", action="store_true", help="also measure the judges as one panel: majority verdict "
                                                        "(mean score for scores), with Krippendorff's alpha")
    v.add_argument("--no-cache", action="store_true", help="ask every judge afresh instead of reusing identical "
                                                           "earlier judge calls")
    v.add_argument("--base-url", help="base URL for openai:MODEL judge specs that name none")
    v.add_argument("--out", help="folder in which the validation folder is made (default: results/validation)")
    v.set_defaults(run=validate_main)


VALIDATE_HELP = """Measure one or more judges against gold labels.

Labelled JSONL kinds: pairs (prompt, answer_a, answer_b, label A/B/tie) for --mode pairwise or single; scores
(prompt, answer, score) for --mode single; classes (text, class) for --mode label with a label template.
Writes OUT/validate-*/: run.json, JUDGE__METHOD/verdicts.jsonl and metrics.json, summary.json."""


def validate_main(args: argparse.Namespace) -> int:
    check_limit(args.limit, zero_means_all=True)
    data = args.data
    if not data.strip():  # else read as '.', the current folder, and refused for having no votes
        raise UserFacingError("--pairs needs a labelled JSONL file, a name in prompts/validation/ or a run folder")
    if not Path(data).exists() and (PROMPTS_DIR / "validation" / f"{data}.jsonl").is_file():
        data = str(PROMPTS_DIR / "validation" / f"{data}.jsonl")
    judges = [with_base_url(j, args.base_url) for j in (args.judges or [DEFAULT_JUDGE])]
    config = ValidationConfig(data=data, judges=judges, methods=args.methods or ["auto"], panel=args.panel,
                              judge_cache=not args.no_cache,
                              mode=args.mode, template=args.template, swap=not args.no_swap, limit=args.limit,
                              out_dir=args.out or str(results_dir() / "validation"))
    folder, bar = None, None
    for update in run_validation(config):
        folder = update.folder
        say_cache_notices(bar)
        if update.stage == "loading":
            print(f"loading {update.judge}", file=sys.stderr)
        elif update.stage == "item":
            if bar is None:
                bar = tqdm(total=update.total, unit="row", file=sys.stderr, desc=f"{update.judge} {update.method}")
            bar.update(1)
        elif update.stage == "judge_done":
            if bar is not None:
                bar.close()
            bar = None
            print(metrics_line(update.metrics), file=sys.stderr)
    print(folder)
    return 0


def say_cache_notices(bar: tqdm | None = None) -> None:
    """Each damaged cache rebuilt since the last update (basics.take_cache_notices), said once, above any bar."""
    for notice in take_cache_notices():
        (bar.write if bar is not None else print)(f"note: {notice}", file=sys.stderr)


def metrics_line(metrics: dict) -> str:
    """One line per judge and method: the headline numbers of its metrics.json."""
    keys = ("n", "agreement", "length_balanced_agreement", "position_consistency", "kappa", "pearson", "spearman",
            "f1_macro", "accuracy", "unparsed_share", "panel_alpha", "mean_panel_used", "seconds_per_item")
    shown = " ".join(f"{k}={metrics[k]:.3g}" if isinstance(metrics.get(k), float) else f"{k}={metrics[k]}"
                     for k in keys if k in metrics and metrics[k] is not None)
    return f"{metrics['judge']} [{metrics['method']}] {shown}"


def add_distill_parser(commands) -> None:
    d = commands.add_parser("distill", help="train a scoring judge on a teacher's labels, measure it, register it",
                            description=DISTILL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--data", required=True, help="labelled pairs JSONL (prompt, answer_a, answer_b, label)")
    d.add_argument("--name", default="student", help="the student's name (its folder under adapters/judges/)")
    d.add_argument("--teacher", default=GOLD, help="'gold' (the file's labels, default) or a judge spec")
    d.add_argument("--baseline", default="smollm2-135m-gguf", help="an untrained judge to measure beside the "
                                                                    "student, or 'none'")
    d.add_argument("--held-out", type=float, default=0.2, help="share of prompts held out for measuring")
    d.add_argument("--no-degrade", action="store_true", help="train on the labelled pairs only")
    d.add_argument("--limit", type=int, default=0, help="only the first N pairs")
    d.add_argument("--out", help="where the student's folder is made (default: adapters/judges)")
    d.set_defaults(run=distill_main)


DISTILL_HELP = """Distil a teacher's verdicts into a scoring judge (a reward head on the embedded model).

The pairs are split by prompt; the student trains on the train part (plus degraded pairs of its preferred answers)
and is measured with the baseline against the teacher on the held-out part. The student's folder holds head.npz,
meta.json and report.json; use it as the judge spec head:FOLDER (the pickers list it)."""


def distill_main(args: argparse.Namespace) -> int:
    check_limit(args.limit, zero_means_all=True)
    config = DistillConfig(data=args.data, name=args.name, teacher=args.teacher, held_out=args.held_out,
                           baseline=None if args.baseline == "none" else args.baseline, degrade=not args.no_degrade,
                           limit=args.limit, out_dir=args.out or str(registered_judges_dir()))
    folder = None
    for update in run_distill(config):
        folder = update.folder
        say_cache_notices()
        print(update.message, file=sys.stderr, flush=True)
        if update.stage == "done":
            for role in ("baseline", "student"):
                if role in update.report:
                    found = update.report[role]
                    low, high = found["agreement_ci"] or (None, None)
                    print(f"{role}: agreement {found['agreement']:.3f} [{low:.2f}-{high:.2f}] on {found['n']} "
                          f"held-out pairs (longer answer wins: {found['longer_wins_same_rows']:.3f})",
                          file=sys.stderr)
    print(folder)
    return 0


# In the order `python -m judge --help` lists them, after compare.
LAB_COMMANDS = (add_validate_parser, add_distill_parser)
