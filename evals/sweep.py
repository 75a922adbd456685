"""A checkpoint sweep: every checkpoint of a training run (or any list of specs) answered once per prompt and preset,
judged against a baseline (and, with round_robin, against each other) through the comparison pipeline, summarised in
one sweep folder.

Each pairing is an ordinary run folder beside the others in the results folder, so the Results tab lists and opens it;
the sweep folder's sweep.json names them. Answers come from evals/answer_cache.py: a checkpoint paired with the
baseline and with three other checkpoints answers each prompt once, not four times.
"""
from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path

from basics import UserFacingError, adapters_dir, now_iso, read_json, results_dir, write_json_atomic
from evals.answer_cache import AnswerCache
from evals.outcomes import SWEEP_MANIFEST, make_outcome_folder
from models import DEFAULT_JUDGE_SETTINGS, DEFAULT_PRESET, preset_settings
from models.adapter_files import ADAPTER_CONFIG, ADAPTER_GGUF, META_FILE
from models.spec import adapter_spec, gguf_twin_spec
from runs.config import DEFAULT_JUDGE, DEFAULT_JUDGE_METHOD, CompareConfig, checked_spec
from runs.pipeline import run_compare
from runs.prompt_sets import PromptItem, load_prompt_set
from runs.store import check_out_dir, git_commit, read_records
from runs.views import record_line

CHECKPOINT_NAME = re.compile(r"^(?:step|checkpoint)-(\d+)$")


class SweepError(UserFacingError):
    """Bad sweep input (no checkpoints, an unknown spec): one line at the CLI, exit status 2."""


@dataclass
class SweepConfig:
    """What `python -m judge sweep` runs: the checkpoints, the baseline, the prompts and how they are judged."""

    checkpoints: list[str]  # a training run's folder (its step-N / checkpoint-N folders), or specs
    baseline: str
    prompts: str  # a prompt set: a name in prompts/ or a .jsonl / .csv file
    presets: list[str] = field(default_factory=lambda: [DEFAULT_PRESET])
    round_robin: bool = False  # also judge every two checkpoints against each other
    judges: list[str] = field(default_factory=lambda: [DEFAULT_JUDGE])
    mode: str = "single"
    template: str | None = None  # a judge template in prompts/ or a YAML file; None = the mode's default
    judge_method: str = DEFAULT_JUDGE_METHOD
    max_new_tokens: int | None = None
    seed: int | None = None
    limit: int | None = None  # only the first N prompts
    judge_cache: bool = True
    out_dir: str = field(default_factory=lambda: str(results_dir()))


@dataclass
class Checkpoint:
    label: str  # as the summary names it: the folder's name, or the spec
    spec: str
    step: int | None = None  # the training step (meta.json's steps, else the folder's number)
    folder: str | None = None
    loss_curve: list[dict] = field(default_factory=list)  # [{step, loss}] up to this checkpoint, where recorded


@dataclass
class SweepResult:
    folder: Path
    checkpoints: list[Checkpoint]
    baseline: str
    pairings: list[dict]  # {a, b, run, against}: one run folder each
    records: dict[tuple[str, str], list[dict]]  # (spec a, spec b) -> that pairing's records
    generated: int = 0  # answers made in this sweep (the rest came from the cache)
    reused: int = 0


def checkpoint_of(folder: Path) -> Checkpoint:
    """One adapter folder as a checkpoint: its GGUF twin on llama.cpp where there is one (the same answers, faster)."""
    meta = read_json(folder / META_FILE) or {}
    match = CHECKPOINT_NAME.match(folder.name)
    step = meta.get("steps") if isinstance(meta.get("steps"), int) else int(match.group(1)) if match else None
    curve = meta.get("loss_curve") or trainer_losses(folder)
    spec = gguf_twin_spec(folder) if (folder / ADAPTER_GGUF).is_file() else None
    return Checkpoint(label=folder.name, spec=spec or adapter_spec(folder), step=step, folder=str(folder),
                      loss_curve=[{"step": e["step"], "loss": e["loss"]} for e in curve
                                  if isinstance(e, dict) and "step" in e and "loss" in e])


def trainer_losses(folder: Path) -> list[dict]:
    """transformers' checkpoint-N folders keep the loss history in trainer_state.json instead of a meta.json."""
    state = read_json(folder / "trainer_state.json") or {}
    return [e for e in state.get("log_history") or [] if isinstance(e, dict) and "loss" in e]


def discover_checkpoints(folder: str | Path) -> list[Checkpoint]:
    """The step-N / checkpoint-N adapter folders of a training run, by step; a step saved both ways counts once."""
    folder = Path(folder)
    found = sorted((checkpoint_of(child) for child in folder.iterdir()
                    if child.is_dir() and CHECKPOINT_NAME.match(child.name) and (child / ADAPTER_CONFIG).is_file()),
                   key=lambda c: (c.step is None, c.step or 0, not c.label.startswith("step-")))
    unique: dict[int | str, Checkpoint] = {}
    for checkpoint in found:
        unique.setdefault(checkpoint.step if checkpoint.step is not None else checkpoint.label, checkpoint)
    return list(unique.values())


def resolve_checkpoints(values: list[str]) -> list[Checkpoint]:
    """Each value a training run's folder (expanded to its checkpoints), an adapter folder (a path, or its name under
    the adapters folder), or a model spec."""
    if not values:
        raise SweepError("no checkpoints given: pass --checkpoints DIR (a training run's folder) or SPEC SPEC ...")
    checkpoints: list[Checkpoint] = []
    for value in values:
        path = Path(value).expanduser()
        if not path.exists() and (adapters_dir() / value).is_dir():  # a name as the Training tab lists it
            path = adapters_dir() / value
        if path.is_dir() and (path / ADAPTER_CONFIG).is_file():
            checkpoints.append(checkpoint_of(path))
        elif path.is_dir():
            found = discover_checkpoints(path)
            if not found:
                raise SweepError(f"no checkpoints found in {value}: it holds no step-N or checkpoint-N folder with "
                                 f"an {ADAPTER_CONFIG}; pass a training run's --out folder, or model specs")
            checkpoints += found
        else:
            try:
                checked_spec(value)
            except UserFacingError as exc:
                raise SweepError(f"--checkpoints {value!r}: {exc}") from exc
            checkpoints.append(Checkpoint(label=value, spec=value))
    for checkpoint in checkpoints:  # a damaged adapter folder is named here, before any model loads
        try:
            checked_spec(checkpoint.spec)
        except UserFacingError as exc:
            raise SweepError(f"checkpoint {checkpoint.label}: {exc}") from exc
    specs = [c.spec for c in checkpoints]
    twice = sorted({s for s in specs if specs.count(s) > 1})
    if twice:
        raise SweepError(f"checkpoint {twice[0]!r} is given twice: name each checkpoint once")
    return checkpoints


def compare_config(config: SweepConfig, model_a: str, model_b: str) -> CompareConfig:
    first, *more = config.presets or [DEFAULT_PRESET]
    sampling = preset_settings(first, max_new_tokens=config.max_new_tokens, seed=config.seed)
    judge, *more_judges = config.judges or [DEFAULT_JUDGE]
    return CompareConfig(model_a=model_a, model_b=model_b, judge=judge, more_judges=more_judges, mode=config.mode,
                         template=config.template, preset=first, sampling=sampling, more_presets=list(more),
                         judge_sampling=DEFAULT_JUDGE_SETTINGS,
                         judge_method=config.judge_method, judge_cache=config.judge_cache, out_dir=config.out_dir)


def pairings(checkpoints: list[Checkpoint], baseline: str, round_robin: bool) -> list[tuple[str, str, str]]:
    """(model A, model B, against) for every run: each checkpoint against the baseline (a checkpoint that is the
    baseline has nothing to be judged against), then, with round_robin, each two checkpoints, earlier one as A."""
    runs = [(c.spec, baseline, "baseline") for c in checkpoints if c.spec != baseline]
    if round_robin:
        seen = {frozenset(pair[:2]) for pair in runs}
        runs += [(a.spec, b.spec, "round-robin") for a, b in combinations(checkpoints, 2)
                 if frozenset((a.spec, b.spec)) not in seen]
    return runs


def prepare(config: SweepConfig) -> tuple[list[Checkpoint], list[PromptItem]]:
    """Checkpoints, baseline, prompts and settings checked before any model loads (bad input: SweepError)."""
    checkpoints = resolve_checkpoints(config.checkpoints)
    try:
        checked_spec(config.baseline)
    except UserFacingError as exc:
        raise SweepError(f"--baseline {config.baseline!r}: {exc}") from exc
    if config.limit is not None and config.limit < 1:
        raise SweepError(f"--limit must be at least 1, got {config.limit}: leave it out to run every prompt")
    items = load_prompt_set(config.prompts)[: config.limit or None]
    if not pairings(checkpoints, config.baseline, config.round_robin):
        raise SweepError("nothing to judge: the only checkpoint is the baseline; give other checkpoints or another "
                         "--baseline")
    compare_config(config, checkpoints[0].spec, config.baseline).validate()  # presets, judges, template
    check_out_dir(config.out_dir)
    return checkpoints, items


def write_manifest(folder: Path, config: SweepConfig, checkpoints: list[Checkpoint], done: list[dict],
                   created: str) -> None:
    """sweep.json, rewritten after every pairing: an interrupted sweep still names the runs it finished."""
    write_json_atomic(folder / SWEEP_MANIFEST, {
        "kind": "sweep", "created": created, "git_commit": git_commit(), "config": asdict(config),
        "baseline": config.baseline, "checkpoints": [asdict(c) for c in checkpoints], "pairings": done})


def run_sweep(config: SweepConfig, say: Callable[[str], None] = lambda text: None) -> SweepResult:
    """Answer every model once, run every pairing, write sweep.json; the summary is evals/sweep_report.py's."""
    checkpoints, items = prepare(config)
    plan = compare_config(config, checkpoints[0].spec, config.baseline).sampling_plan()
    cache = AnswerCache.under(config.out_dir)
    runs = pairings(checkpoints, config.baseline, config.round_robin)
    specs = list(dict.fromkeys(spec for a, b, _ in runs for spec in (a, b)))
    answers = {spec: cache.answers(spec, items, plan, say) for spec in specs}
    name = Path(config.checkpoints[0]).name if len(config.checkpoints) == 1 else "checkpoints"
    folder, created = make_outcome_folder(config.out_dir, f"sweep-{name}"), now_iso()
    done: list[dict] = []
    write_manifest(folder, config, checkpoints, done, created)
    by_pair, labels = {}, {c.spec: c.label for c in checkpoints}
    for number, (a, b, against) in enumerate(runs, 1):
        label = f"sweep-{labels[a]}-vs-{'baseline' if against == 'baseline' else labels[b]}"
        given = {key: {"A": answers[a][key], "B": answers[b][key]} for key in answers[a]}
        run_dir = None
        for update in run_compare(compare_config(config, a, b), items, label=label, given_answers=given):
            run_dir = update.run_dir or run_dir
            if update.stage == "record":
                say(f"pairing {number}/{len(runs)} " + record_line(update.index, update.total, update.record))
        by_pair[(a, b)] = read_records(run_dir)
        done.append({"a": a, "b": b, "against": against, "run": run_dir.name})
        write_manifest(folder, config, checkpoints, done, created)
    return SweepResult(folder, checkpoints, config.baseline, done, by_pair, cache.generated, cache.reused)


def sweep_updates(config: SweepConfig) -> Iterator[str | SweepResult]:
    """run_sweep for a page: its progress lines as they come, then its result. The sweep runs in a thread so a line
    reaches the page while a model is still answering; an error in it is raised here, in the caller's thread."""
    prepare(config)  # bad input fails here, before the thread starts
    lines: queue.Queue = queue.Queue()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = run_sweep(config, say=lines.put)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            outcome["error"] = exc
        finally:
            lines.put(None)

    threading.Thread(target=work, name="sweep", daemon=True).start()
    while (line := lines.get()) is not None:
        yield line
    if "error" in outcome:
        raise outcome["error"]
    yield outcome["result"]
