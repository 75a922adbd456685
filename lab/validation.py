"""Validating judges against gold labels: labelled files in, per-row verdicts and metrics.json per judge and method out.

Labelled files are JSONL, one of three kinds, told apart by their fields:
- pairs: `prompt`, `answer_a`, `answer_b`, `label` (A, B or tie), judged pairwise (with swap) or single (each answer
  graded alone, the higher total wins);
- scores: `prompt`, `answer`, `score` (a number), judged single; compared by correlation;
- classes: `text` (or `answer`), `class`, optional `prompt`, judged by a label template.
A run folder of the Compare tab is a labelled file too: its people's votes (votes.jsonl) are the gold labels.
One validation = one folder: run.json (manifest), one sub-folder per judge and method with verdicts.jsonl and
metrics.json, and summary.json (every metrics table) written last.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analysis.agreement import VOTE_AS_VERDICT
from analysis.judge_metrics import PairOutcome, class_metrics, pairwise_metrics, score_metrics
from basics import (
    PROMPTS_DIR,
    UserFacingError,
    append_jsonl,
    now_iso,
    numbered_json_lines,
    read_json,
    read_jsonl,
    results_dir,
    write_json_atomic,
)
from judge.judging import PROBABILITIES, judge_pair, judge_single, single_winner
from judge.labels import judge_label
from judge.rewards import reward_p_better
from judge.templates import JudgeTemplate, default_template, load_template
from lab.panel_validation import PANEL_NAME, panel_alpha, panel_rows
from models import DEFAULT_JUDGE_SETTINGS, SamplingSettings, load_model, parse_model_spec
from models.endpoints import EndpointError
from runs.config import DEFAULT_JUDGE, JUDGE_METHODS, resolve_method
from runs.judge_cache import cached_judges
from runs.public import PublicModeError, PublicPolicy
from runs.store import git_commit, new_run_id, package_versions, read_records
from runs.votes import read_votes, runs_with_votes

VALIDATION_MODES = ("pairwise", "single", "label")
KIND_OF_MODE = {"pairwise": "pairs", "label": "classes"}  # single validates pairs or scores


class LabelledDataError(UserFacingError):
    """A labelled file cannot be used; the message names the file, the line and the fix."""


@dataclass
class LabelledItem:
    id: str
    prompt: str = ""
    answer_a: str = ""
    answer_b: str = ""
    answer: str = ""  # scores and classes: the text judged
    gold: str | float | None = None  # "A"/"B"/"tie", a number, or a class name


@dataclass
class LabelledSet:
    kind: str  # "pairs" | "scores" | "classes"
    items: list[LabelledItem]
    source: str


def load_labelled(path: str | Path) -> LabelledSet:
    """A labelled JSONL file, or a run folder whose votes are the gold labels."""
    path = Path(path)
    if path.is_dir():
        return pairs_from_votes(path)
    if not path.is_file():
        raise LabelledDataError(f"labelled file {str(path)!r} not found: give a .jsonl file (see `python -m judge "
                                "validate --help`) or a run folder with votes")
    items, kind = [], None
    for number, row in numbered_json_lines(path.read_text(encoding="utf-8"), path.name, LabelledDataError):
        where = f"{path.name} line {number}"
        if not isinstance(row, dict):
            raise LabelledDataError(f"{where}: each line must be a JSON object")
        row_kind = _kind_of(row, where)
        if kind not in (None, row_kind):
            raise LabelledDataError(f"{where}: a {row_kind} row in a file of {kind}: keep one kind per file")
        kind = row_kind
        items.append(_item(row, row_kind, where, f"{path.stem}-{number}"))
    if not items:
        raise LabelledDataError(f"{path.name}: no labelled rows in the file")
    return LabelledSet(kind, items, str(path))


def _kind_of(row: dict, where: str) -> str:
    if "answer_a" in row or "answer_b" in row:
        return "pairs"
    if "score" in row:
        return "scores"
    if "class" in row:
        return "classes"
    raise LabelledDataError(f"{where}: expected pairs (prompt, answer_a, answer_b, label), scores (prompt, answer, "
                            f"score) or classes (text, class); found fields {sorted(row)}")


def _item(row: dict, kind: str, where: str, default_id: str) -> LabelledItem:
    item = LabelledItem(id=str(row.get("id") or default_id), prompt=str(row.get("prompt") or ""))
    if kind == "pairs":
        label = str(row.get("label") or "").strip()
        label = "tie" if label.lower() == "tie" else label.upper()
        # An empty answer is a real answer (a model that said nothing) and must be judged, so only absence is refused.
        if label not in ("A", "B", "tie") or row.get("answer_a") is None or row.get("answer_b") is None:
            raise LabelledDataError(f"{where}: a pair needs answer_a, answer_b and a label A, B or tie")
        item.answer_a, item.answer_b, item.gold = str(row["answer_a"]), str(row["answer_b"]), label
    elif kind == "scores":
        score = row.get("score")
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not row.get("answer"):
            raise LabelledDataError(f"{where}: a scored row needs an answer and a numeric score")
        item.answer, item.gold = str(row["answer"]), float(row["score"])
    else:
        text = row.get("text") or row.get("answer")
        if not text or not str(row.get("class") or "").strip():
            raise LabelledDataError(f"{where}: a classified row needs text (or answer) and a class")
        item.answer, item.gold = str(text), str(row["class"]).strip().lower()
    return item


def pairs_from_votes(run_dir: Path) -> LabelledSet:
    """The records of a Compare or Batch run that people voted on, with their latest vote as the gold label."""
    latest = {(v.get("id"), v.get("preset")): VOTE_AS_VERDICT[v["vote"]] for v in read_votes(run_dir)}
    items = [LabelledItem(id=f"{r['id']}@{r['preset']}", prompt=r["prompt"], answer_a=r["answers"]["A"]["text"],
                          answer_b=r["answers"]["B"]["text"], gold=latest[(r["id"], r["preset"])])
             for r in read_records(run_dir) if (r["id"], r["preset"]) in latest]
    if not items:
        raise LabelledDataError(f"{run_dir} has no votes: vote on its comparisons (Compare tab) first")
    return LabelledSet("pairs", items, str(run_dir))


@dataclass
class ValidationConfig:
    """One validation: labelled data, the judges and methods to measure, and how they judge."""

    data: str
    judges: list[str] = field(default_factory=lambda: [DEFAULT_JUDGE])
    methods: list[str] = field(default_factory=lambda: ["auto"])
    mode: str = "pairwise"
    template: str | None = None  # a name in prompts/ or a YAML path; None = the mode's default template
    template_text: str | None = None  # an edited template (YAML), e.g. from the Judge Lab; wins over `template`
    swap: bool = True
    limit: int = 0  # only the first N rows (0 = all)
    out_dir: str = field(default_factory=lambda: str(results_dir() / "validation"))
    panel: bool = False  # also measure the judges as one panel (lab/panel_validation.py)
    judge_cache: bool = True  # identical judge calls answered from the on-disk cache (runs/judge_cache.py)
    judge_sampling: SamplingSettings = field(default_factory=lambda: DEFAULT_JUDGE_SETTINGS)

    def resolve(self) -> tuple[LabelledSet, JudgeTemplate]:
        """Check everything before any model loads: modes, methods, specs, the data and the template."""
        from judge.templates import parse_template

        if self.mode not in VALIDATION_MODES:
            raise UserFacingError(f"mode must be one of {', '.join(VALIDATION_MODES)}, got {self.mode!r}")
        bad = [m for m in self.methods if m not in JUDGE_METHODS]
        if bad or not self.methods:
            raise UserFacingError(f"method must be one of {', '.join(JUDGE_METHODS)}, got {bad or 'none'}")
        if not self.judges:
            raise UserFacingError("pick at least one judge")
        if self.panel and len(set(self.judges)) < 2:
            raise UserFacingError("a panel needs at least two different judges: give --judge several times")
        for spec in self.judges:
            parse_model_spec(spec)
        data = load_labelled(self.data)
        expected = KIND_OF_MODE.get(self.mode)
        if (expected and data.kind != expected) or (self.mode == "single" and data.kind == "classes"):
            raise LabelledDataError(f"{Path(data.source).name} holds {data.kind}, which the {self.mode} mode cannot "
                                    f"judge: use --mode {'label' if data.kind == 'classes' else 'pairwise or single'}")
        if self.template_text and self.template_text.strip():
            template = parse_template(self.template_text, source="edited template")
        else:
            template = load_template(self.template) if self.template else default_template(
                "single" if self.mode == "single" else self.mode)
        wanted = "single" if self.mode == "single" else self.mode
        if template.mode != wanted:
            raise UserFacingError(f"template {template.name!r} is a {template.mode} template; the {self.mode} mode "
                                  f"needs a {wanted} template")
        if data.kind == "classes":
            unknown = sorted({str(i.gold) for i in data.items} - set(template.labels))
            if unknown:
                raise LabelledDataError(f"classes {unknown} are not labels of template {template.name!r} "
                                        f"({', '.join(template.labels)}): pick a template with these labels")
        if self.limit:
            data.items = data.items[: self.limit]
        return data, template


@dataclass
class ValidationUpdate:
    stage: str  # "loading" | "judging" (loaded; its rows begin) | "item" | "judge_done" | "done"
    judge: str
    method: str
    index: int  # items done for this judge and method
    total: int
    folder: Path
    metrics: dict | None = None  # judge_done: this judge and method's metrics


def run_validation(config: ValidationConfig) -> Iterator[ValidationUpdate]:
    """Judge every row with every judge and method; yields progress; writes the folder described above."""
    data, template = config.resolve()
    folder = Path(config.out_dir) / new_run_id("validate-" + Path(data.source).stem)
    folder.mkdir(parents=True)
    write_json_atomic(folder / "run.json", {
        "kind": "validation", "created": now_iso(), "data": data.source, "data_kind": data.kind, "n": len(data.items),
        "config": {**asdict(config), "judge_sampling": config.judge_sampling.to_dict()},
        "judge_template": {"name": template.name, "sha256": template.sha256, "text": template.to_yaml()},
        "packages": package_versions(), "git_commit": git_commit()})
    summary, rows_by_method = {}, {}
    for spec in config.judges:
        yield ValidationUpdate("loading", spec, "", 0, len(data.items), folder)
        (judge,), _ = cached_judges([load_model(spec)], config.judge_cache)
        resolved: dict[str, list[str]] = {}  # a scoring judge has one method whatever was asked: measured once
        for requested in dict.fromkeys(config.methods):
            resolved.setdefault(resolve_method(requested, judge), []).append(requested)
        for method, asked in resolved.items():
            name = judge_folder_name(spec, method)
            rows: list[dict] = []
            for requested in asked:  # a panel by method counts this judge under each method that meant it
                rows_by_method.setdefault(requested, {})[spec] = rows
            (folder / name).mkdir(exist_ok=True)
            yield ValidationUpdate("judging", spec, method, 0, len(data.items), folder)
            for index, item in enumerate(data.items):
                try:
                    row = judge_item(judge, template, config, data.kind, item, method)
                except EndpointError as exc:  # a served judge's failed request: this row has no verdict
                    row = {"id": item.id, "gold": item.gold, "method": method, "predicted": None, "status": "failed",
                           "error": str(exc), "seconds": 0.0, "len_a": len(item.answer_a),
                           "len_b": len(item.answer_b)}
                append_jsonl(folder / name / "verdicts.jsonl", row)
                rows.append(row)
                yield ValidationUpdate("item", spec, method, index + 1, len(data.items), folder)
            # The methods ticked that this one stands for: a scoring judge runs its head whatever was ticked.
            metrics = {"judge": spec, "method": method, "methods_ticked": asked, "mode": config.mode,
                       **metrics_of(data.kind, rows, template)}
            write_json_atomic(folder / name / "metrics.json", metrics)
            summary[name] = metrics
            yield ValidationUpdate("judge_done", spec, method, len(data.items), len(data.items), folder, metrics)
    if config.panel:
        for requested, rows_by_judge in rows_by_method.items():
            rows = panel_rows(data.kind, rows_by_judge)
            name = f"{PANEL_NAME}__{requested}"
            (folder / name).mkdir(exist_ok=True)
            for row in rows:
                append_jsonl(folder / name / "verdicts.jsonl", row)
            metrics = {"judge": " | ".join(rows_by_judge), "method": requested, "mode": config.mode,
                       **metrics_of(data.kind, rows, template), **panel_alpha(data.kind, rows),
                       "mean_panel_used": round(sum(r["used"] for r in rows) / len(rows), 3) if rows else None}
            write_json_atomic(folder / name / "metrics.json", metrics)
            summary[name] = metrics
            yield ValidationUpdate("judge_done", metrics["judge"], requested, len(rows), len(rows), folder, metrics)
    write_json_atomic(folder / "summary.json", {"finished": now_iso(), "judges": summary})
    yield ValidationUpdate("done", "", "", len(data.items), len(data.items), folder)


def judge_item(judge, template: JudgeTemplate, config: ValidationConfig, kind: str, item: LabelledItem,
               method: str) -> dict:
    """One labelled row judged: a JSON-ready verdict row with the gold label, the prediction and its evidence. A row
    keeps no reasons, so a writing judge stops after its verdict (scores_only)."""
    started = time.perf_counter()
    settings = config.judge_sampling
    row: dict = {"id": item.id, "gold": item.gold, "method": method}
    if kind == "classes":
        verdict = judge_label(judge, template, item.answer, settings, prompt=item.prompt, method=method,
                              scores_only=True)
        row.update(predicted=verdict.label, probabilities=verdict.probabilities, status=verdict.status,
                   raw=verdict.call.raw_replies)
    elif kind == "scores":
        verdict = judge_single(judge, template, item.prompt, item.answer, settings, method=method, scores_only=True)
        row.update(predicted=verdict.total, scores=verdict.scores, status=verdict.status,
                   raw=verdict.call.raw_replies)
    elif config.mode == "single":
        a, b = (judge_single(judge, template, item.prompt, text, settings, method=method, scores_only=True)
                for text in (item.answer_a, item.answer_b))
        row.update(predicted=single_winner(a, b), totals={"A": a.total, "B": b.total},
                   status="ok" if a.status == b.status == "ok" else "unparsed",
                   len_a=len(item.answer_a), len_b=len(item.answer_b))
        if a.reward is not None and b.reward is not None:
            row.update(rewards={"A": a.reward, "B": b.reward},
                       p_predicted=predicted_share(a.reward, b.reward, row["predicted"]))
    else:
        verdict = judge_pair(judge, template, item.prompt, item.answer_a, item.answer_b, settings, swap=config.swap,
                             method=method, scores_only=True)
        probability = (verdict.probabilities or {}).get(verdict.winner) if method == PROBABILITIES else None
        if verdict.rewards:
            row["rewards"] = verdict.rewards
            probability = predicted_share(verdict.rewards["A"], verdict.rewards["B"], verdict.winner)
        row.update(predicted=verdict.winner, status=verdict.status, probabilities=verdict.probabilities,
                   p_predicted=probability, orders={o.order: o.verdict for o in verdict.orders},
                   len_a=len(item.answer_a), len_b=len(item.answer_b))
    row["seconds"] = round(time.perf_counter() - started, 3)
    return row


def predicted_share(reward_a: float, reward_b: float, winner: str | None) -> float | None:
    """A reward model's probability of the answer it picked, sigmoid(r_A - r_B) or its complement (for calibration);
    None for a tie."""
    p = reward_p_better(reward_a, reward_b)
    return {"A": p, "B": 1 - p}.get(winner)


def metrics_of(kind: str, rows: list[dict], template: JudgeTemplate) -> dict:
    """The metrics of one judge's verdict rows (analysis/judge_metrics.py)."""
    if kind == "classes":
        metrics = class_metrics([r["gold"] for r in rows], [r["predicted"] for r in rows], list(template.labels))
    elif kind == "scores":
        metrics = score_metrics([r["gold"] for r in rows], [r["predicted"] for r in rows])
    else:
        metrics = pairwise_metrics([PairOutcome(gold=r["gold"], predicted=r["predicted"], len_a=r["len_a"],
                                                len_b=r["len_b"], order_verdicts=r.get("orders") or {},
                                                p_predicted=r.get("p_predicted"), seconds=r["seconds"])
                                    for r in rows])
    seconds = [r["seconds"] for r in rows]
    return {**metrics, "seconds_per_item": round(sum(seconds) / len(seconds), 3) if seconds else None}


def judge_folder_name(spec: str, method: str) -> str:
    """The folder of one judge and method inside a validation run."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", spec).strip("-")[:60] or "judge"
    return f"{slug}__{method}"


@dataclass
class ValidationRun:
    """A validation folder as read: its manifest, the metrics of each judge and method, and their verdict rows."""

    folder: Path
    manifest: dict
    metrics: dict[str, dict]  # "JUDGE__METHOD" -> metrics.json
    verdicts: dict[str, list[dict]]  # "JUDGE__METHOD" -> verdicts.jsonl rows

    def items(self) -> dict[str, LabelledItem]:
        """The labelled rows by id (the data file as it was named in the manifest; {} when it is gone)."""
        try:
            return {item.id: item for item in load_labelled(self.manifest["data"]).items}
        except UserFacingError:
            return {}


def load_validation(folder: str | Path) -> ValidationRun:
    """A validation folder, finished or not (a judge still running has verdicts but no metrics.json yet)."""
    folder = Path(folder)
    manifest = read_json(folder / "run.json")
    if not manifest or manifest.get("kind") != "validation":
        raise UserFacingError(f"{folder} is not a validation folder (no run.json of kind validation)")
    metrics, verdicts = {}, {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        if (sub / "verdicts.jsonl").is_file():
            verdicts[sub.name] = list(read_jsonl(sub / "verdicts.jsonl"))
            found = read_json(sub / "metrics.json")
            if found:
                metrics[sub.name] = found
    return ValidationRun(folder, manifest, metrics, verdicts)


def shipped_labelled_sets() -> list[str]:
    """The labelled example files shipped in prompts/validation/."""
    return sorted(str(p) for p in (PROMPTS_DIR / "validation").glob("*.jsonl"))


def check_public_validation(policy: PublicPolicy, config: ValidationConfig,
                            upload_root: str | Path | None) -> ValidationConfig:
    """A Judge Lab request on a shared app, by its public policy (runs/public.py): shipped or uploaded labels (or a
    run's votes), offered judges, a bounded size, before any judge loads."""
    shipped = [*shipped_labelled_sets(), *(str(folder) for folder in runs_with_votes())]
    config.data = policy.check_data_file(config.data, upload_root, (".jsonl",), shipped=shipped)
    for judge in config.judges:
        policy.check_model(judge, "judge")
    policy.check_template(config.template_text)
    if config.template:
        raise PublicModeError("judge templates cannot be named on this shared app: pick one in the list")
    cap = policy.limits.labelled_items
    if not 1 <= config.limit <= cap:
        raise PublicModeError(f"set Limit from 1 to {cap}: this shared app validates at most {cap} items "
                              f"per run (got {config.limit}; 0 means all)")
    return config
