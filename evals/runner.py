"""Running a suite: its cases answered and judged by the comparison pipeline, then every mode read off the records.

Each sample round is one ordinary comparison run (runs/pipeline.py: the model under test is A, the baseline B, or
the model itself where there is none), so its run folder can be opened in the Results tab or named by a later
`--gate`. Round k answers with seed + k - 1: the same seed would give the same answer every time, and N copies of
one answer are not N samples.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from analysis.stats import wilson_interval
from basics import now_iso, results_dir, write_json_atomic
from evals.modes import SampleResult, evaluate_sample
from evals.outcomes import SUITE_OUTCOME, make_outcome_folder
from evals.suite import Case, Suite, SuiteError, load_suite
from models import DEFAULT_JUDGE_SETTINGS, DEFAULT_PRESET, preset_settings
from runs.config import DEFAULT_JUDGE, DEFAULT_JUDGE_METHOD, CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import PromptItem
from runs.store import git_commit
from runs.views import record_line


@dataclass
class EvalConfig:
    """What `python -m judge test` runs: a suite, the model under test, its baseline and judge(s)."""

    suite: str  # a suite file, or a shipped suite's name (prompts/suites/)
    model: str
    baseline: str | None = None  # None: no beats_baseline modes allowed; B is the model itself
    judges: list[str] = field(default_factory=lambda: [DEFAULT_JUDGE])
    judge_method: str = DEFAULT_JUDGE_METHOD
    max_new_tokens: int | None = None  # over the suite's settings
    seed: int | None = None  # over the suite's settings
    cases: list[str] = field(default_factory=list)  # only these case ids (all when empty), as pytest's -k narrows
    judge_cache: bool = True
    concurrency: int = 0
    out_dir: str = field(default_factory=lambda: str(results_dir()))


@dataclass
class CaseResult:
    case: Case
    samples: list[SampleResult]

    @property
    def n_passed(self) -> int:
        return sum(s.passed for s in self.samples)

    @property
    def passed(self) -> bool:
        return len(self.samples) == self.case.samples and self.n_passed >= self.case.needed

    @property
    def interval(self) -> tuple[float, float] | None:
        """Wilson's 95% interval of the pass rate: 4 of 5 is 38%-96%, which says how little 5 samples settle."""
        return wilson_interval(self.n_passed, len(self.samples))

    def mode_counts(self) -> list[tuple[str, int, int]]:
        """(mode, samples it passed on, samples) in the case's order."""
        names = [m.description for m in self.samples[0].modes] if self.samples else []
        return [(name, sum(s.modes[i].passed for s in self.samples), len(self.samples))
                for i, name in enumerate(names)]


@dataclass
class SuiteResult:
    suite: Suite
    config: EvalConfig
    cases: list[CaseResult]
    run_dirs: list[Path]
    records: list[dict]  # every record of every round, for the gate
    seconds: float = 0.0
    outcome: Path | None = None  # the suite.json folder the Results tab's history reads (evals/outcomes.py)

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.passed]


def compare_config(suite: Suite, config: EvalConfig) -> CompareConfig:
    """The comparison each round runs: the suite's settings, with the command line's over them."""
    settings = suite.settings
    preset = settings.get("preset", DEFAULT_PRESET)
    sampling = preset_settings(preset, **{k: v for k, v in (
        ("max_new_tokens", settings.get("max_new_tokens") if config.max_new_tokens is None else config.max_new_tokens),
        ("seed", settings.get("seed") if config.seed is None else config.seed),
        ("temperature", settings.get("temperature"))) if v is not None})
    judge_sampling = DEFAULT_JUDGE_SETTINGS.with_(temperature=settings.get("judge_temperature", 0.0))
    judge, *more = config.judges or [DEFAULT_JUDGE]
    template = suite.template
    beside = Path(suite.path).parent / template if template else None
    if beside is not None and not Path(template).is_absolute() and beside.is_file():
        template = str(beside)  # a template file named by the suite is found beside it, wherever the command runs
    return CompareConfig(model_a=config.model, model_b=config.baseline or config.model, judge=judge,
                         more_judges=list(more), mode=suite.mode, template=template,
                         preset=None if "temperature" in settings else preset, sampling=sampling,
                         judge_sampling=judge_sampling, judge_method=config.judge_method,
                         judge_cache=config.judge_cache, concurrency=config.concurrency, out_dir=config.out_dir)


def prepare(config: EvalConfig) -> tuple[Suite, CompareConfig]:
    """The suite loaded and checked against the judge template and the command line, before any model loads."""
    suite = load_suite(config.suite)
    if config.cases:
        unknown = [c for c in config.cases if c not in {case.id for case in suite.cases}]
        if unknown:
            raise SuiteError(f"{suite.path} has no case {', '.join(map(repr, unknown))}; its cases: "
                             f"{', '.join(case.id for case in suite.cases)}")
        suite = replace(suite, cases=tuple(case for case in suite.cases if case.id in config.cases))
    wanting = suite.needs_baseline
    if wanting and not config.baseline:
        raise SuiteError(f"{suite.path}: case(s) {', '.join(wanting)} ask whether the model beats the baseline: "
                         "give --baseline SPEC")
    compare = compare_config(suite, config)
    suite.check_rubric(compare.validate().rubric)
    return suite, compare


def run_suite(config: EvalConfig, say: Callable[[str], None] = lambda text: None) -> SuiteResult:
    """Every case answered and judged `samples` times (one comparison run per round), then its modes read."""
    started = time.perf_counter()
    suite, compare = prepare(config)
    rounds = max(case.samples for case in suite.cases)
    by_case: dict[str, list[SampleResult]] = {case.id: [] for case in suite.cases}
    cases = {case.id: case for case in suite.cases}
    run_dirs, records = [], []
    for number in range(1, rounds + 1):
        items = [PromptItem(id=c.id, prompt=c.prompt, category=c.category, reference=c.reference, system=c.system)
                 for c in suite.cases if c.samples >= number]
        sampling = compare.sampling.with_(seed=compare.sampling.seed + number - 1)
        judge_sampling = compare.judge_sampling
        if judge_sampling.temperature > 0:  # a sampling judge draws afresh each round too
            judge_sampling = judge_sampling.with_(seed=judge_sampling.seed + number - 1)
        this_round = replace(compare, sampling=sampling, judge_sampling=judge_sampling)
        label = f"test-{suite.name}" + (f"-sample-{number}" if rounds > 1 else "")
        run_dir = None
        for update in run_compare(this_round, items, label=label):
            run_dir = update.run_dir or run_dir
            if update.stage == "record":
                record = update.record
                records.append(record)
                say(f"sample {number}/{rounds} " + record_line(update.index, update.total, record))
                by_case[record["id"]].append(evaluate_sample(cases[record["id"]], record, number, str(run_dir)))
        run_dirs.append(run_dir)
    results = [CaseResult(case, by_case[case.id]) for case in suite.cases]
    result = SuiteResult(suite, config, results, run_dirs, records, round(time.perf_counter() - started, 2))
    result.outcome = write_suite_outcome(result)
    return result


def write_suite_outcome(result: SuiteResult) -> Path:
    """suite.json in its own folder beside the runs (evals/outcomes.py reads it for the Results tab's history): which
    cases passed, the pass rate and its interval, the runs it made."""
    config, passed = result.config, [c.case.id for c in result.cases if c.passed]
    cases = len(result.cases)
    low, high = wilson_interval(len(passed), cases) or (None, None)
    folder = make_outcome_folder(config.out_dir, f"suite-{result.suite.name}")
    write_json_atomic(folder / SUITE_OUTCOME, {
        "kind": "suite", "created": now_iso(), "git_commit": git_commit(), "suite": result.suite.name,
        "model": config.model, "baseline": config.baseline, "judges": config.judges, "cases": cases,
        "passed": passed, "failed": [c.case.id for c in result.failed],
        "pass_rate": {"rate": len(passed) / cases if cases else None, "low": low, "high": high},
        "runs": [Path(d).name for d in result.run_dirs if d], "seconds": result.seconds})
    return folder
