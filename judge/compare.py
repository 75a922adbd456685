"""A comparison run: both models answer each prompt, the judge grades, every record is saved as it finishes.

`run_compare` is a generator of `CompareUpdate`s so the app can stream both answers as they are written and
the CLI can print each finished record; both drive the same code.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Iterator

from judge.checks import checks_summary, run_checks
from judge.judging import OK, UNPARSED, judge_pair, judge_single, single_winner
from judge.prompt_sets import PromptItem
from judge.reference_metrics import reference_metrics
from judge.runs import RunManifest, RunWriter, git_commit, new_run_id, now_iso, package_versions, read_records
from judge.runs import DEFAULT_RESULTS_DIR
from judge.templates import JudgeTemplate, TemplateError, default_template, load_template, parse_template
from models import DEFAULT_JUDGE_SETTINGS, PRESETS, SamplingSettings, SettingsError, load_model, parse_model_spec
from models.settings import preset_settings
from models.embedded import DEFAULT_MODEL, GGUF_SUFFIX

# llama.cpp serves the embedded model ~9x faster than transformers on CPU; the judge reads long prompts.
DEFAULT_JUDGE = DEFAULT_MODEL + GGUF_SUFFIX
DEFAULT_MODEL_A = DEFAULT_MODEL
DEFAULT_MODEL_B = DEFAULT_MODEL + GGUF_SUFFIX
BATCH_SIZE = 8  # prompts answered per generate() call on transformers in prompt-set runs


@dataclass
class CompareConfig:
    """Everything that defines a comparison; the CLI and the app both build one of these."""

    model_a: str = DEFAULT_MODEL_A
    model_b: str = DEFAULT_MODEL_B
    judge: str = DEFAULT_JUDGE
    mode: str = "single"  # "single": each answer graded alone; "pairwise": both shown, verdict A/B/tie
    preset: str | None = "p1"  # the name of the preset the sampling came from, or None if customised
    sampling: SamplingSettings = field(default_factory=lambda: PRESETS["p1"])
    more_presets: list[str] = field(default_factory=list)  # also answer every prompt with these (p1 vs p2 study)
    judge_sampling: SamplingSettings = field(default_factory=lambda: DEFAULT_JUDGE_SETTINGS)
    template: str | None = None  # a template name in prompts/ or a YAML path; None = the mode's default
    template_text: str | None = None  # an edited template (YAML) from the UI; wins over `template`
    swap: bool = True  # pairwise: also judge with the answers swapped, to cancel position bias
    constrain_judge: bool = True  # hold grammar-capable (llama.cpp) judges to the template's output format
    out_dir: str = str(DEFAULT_RESULTS_DIR)

    def resolve_template(self) -> JudgeTemplate:
        if self.template_text and self.template_text.strip():
            template = parse_template(self.template_text, source="edited template")
        elif self.template:
            template = load_template(self.template)
        else:
            template = default_template(self.mode)
        if template.mode != self.mode:
            raise TemplateError(
                f"template {template.name!r} is a {template.mode} template but the mode is {self.mode}: "
                f"pick a {self.mode} template or switch the mode"
            )
        return template

    def validate(self) -> JudgeTemplate:
        """Check specs, presets and the template before any model loads; return the template to use."""
        for spec in (self.model_a, self.model_b, self.judge):
            parse_model_spec(spec)
        self.sampling_plan()
        return self.resolve_template()

    def sampling_plan(self) -> list[tuple[str, SamplingSettings]]:
        """(label, settings) for each sampling setting in the run; extra presets keep the length and seed."""
        plan = [(self.preset or "custom", self.sampling)]
        for name in self.more_presets:
            settings = preset_settings(name, max_new_tokens=self.sampling.max_new_tokens, seed=self.sampling.seed)
            plan.append((name, settings))
        labels = [label for label, _ in plan]
        if len(set(labels)) != len(labels):
            raise SettingsError(f"each preset may appear once in a run, got {', '.join(labels)}")
        return plan

    @classmethod
    def from_dict(cls, data: dict) -> "CompareConfig":
        data = dict(data)
        data["sampling"] = SamplingSettings(**data["sampling"])
        data["judge_sampling"] = SamplingSettings(**data["judge_sampling"])
        known = {f.name for f in dataclass_fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("template_text")  # the manifest stores the resolved template itself
        return data


@dataclass
class CompareUpdate:
    stage: str  # "loading" | "answer_a" | "answer_b" | "judging" | "record" | "done"
    index: int  # 0-based prompt number
    total: int
    item: PromptItem | None = None
    answer_a: str = ""
    answer_b: str = ""
    record: dict | None = None
    run_dir: Path | None = None
    message: str = ""


def run_compare(config: CompareConfig, items: list[PromptItem], label: str = "compare") -> Iterator[CompareUpdate]:
    """Answer, judge and save every prompt at every sampling setting; yields progress, 'record's, then 'done'."""
    template = config.validate()
    manifest = RunManifest(
        run_id=new_run_id(label), created=now_iso(), kind="compare", config=config.to_dict(),
        judge_template={"name": template.name, "mode": template.mode, "sha256": template.sha256,
                        "text": template.to_yaml()},
        packages=package_versions(), git_commit=git_commit(), prompts=[item.to_dict() for item in items],
    )
    yield from _run(config, template, items, RunWriter(config.out_dir, manifest), done=[])


def resume_compare(run_dir: str | Path) -> Iterator[CompareUpdate]:
    """Finish an interrupted run in its own folder, skipping every (prompt, preset) already recorded."""
    writer = RunWriter.reopen(run_dir)
    manifest = writer.manifest
    config = CompareConfig.from_dict(manifest.config)
    config.template_text = manifest.judge_template["text"]  # the template exactly as the run began with it
    template = config.validate()
    items = [PromptItem(**{**p, "checks": tuple(p.get("checks") or ())}) for p in manifest.prompts]
    yield from _run(config, template, items, writer, done=read_records(writer.folder))


def _run(config, template, items, writer: RunWriter, done: list[dict]) -> Iterator[CompareUpdate]:
    plan = config.sampling_plan()
    total = len(items) * len(plan)
    finished = {(r["id"], r.get("preset")) for r in done}
    yield CompareUpdate("loading", len(finished), total, run_dir=writer.folder, message="loading models")
    backends = {}
    for role, spec in (("model_a", config.model_a), ("model_b", config.model_b), ("judge", config.judge)):
        backends[role] = load_model(spec)
        writer.manifest.models[role] = backends[role].describe()
    writer.write_manifest()
    records = list(done)
    index = len(finished)
    for preset, sampling in plan:
        pending = [item for item in items if (item.id, preset) not in finished]
        # One prompt streams its answers; a set is answered in batches (several prompts per forward pass), and
        # each chunk is judged and saved before the next, so a crash loses at most one chunk of answers.
        chunk_size = BATCH_SIZE if len(pending) > 1 else 1
        for start in range(0, len(pending), chunk_size):
            chunk = pending[start:start + chunk_size]
            answers = None
            if len(chunk) > 1:
                yield CompareUpdate("answer_a", index, total, chunk[0], run_dir=writer.folder,
                                    message=f"answering {len(chunk)} prompts in a batch")
                answers = _batch_answers(backends, chunk, sampling)
            for offset, item in enumerate(chunk):
                record = yield from _compare_item(config, template, backends, item, index, total, writer.folder,
                                                  preset, sampling, answers[offset] if answers else None)
                writer.append(record)
                records.append(record)
                yield CompareUpdate("record", index, total, item, record["answers"]["A"]["text"],
                                    record["answers"]["B"]["text"], record=record, run_dir=writer.folder)
                index += 1
    writer.finish(summarize(records))
    yield CompareUpdate("done", total, total, run_dir=writer.folder, message=f"saved to {writer.folder}")


def _batch_answers(backends, chunk: list[PromptItem], sampling) -> list[dict]:
    conversations = [[{"role": "user", "content": item.prompt}] for item in chunk]
    by_side = {side: backends[role].generate_batch(conversations, sampling, batch_size=len(chunk))
               for side, role in (("A", "model_a"), ("B", "model_b"))}
    return [{"A": a, "B": b} for a, b in zip(by_side["A"], by_side["B"])]


def _compare_item(config, template, backends, item, index, n, run_dir, preset, sampling, answers=None):
    started = time.perf_counter()
    messages = [{"role": "user", "content": item.prompt}]
    answers = dict(answers or {})
    for side, role, stage in (("A", "model_a", "answer_a"), ("B", "model_b", "answer_b")):
        if side in answers:
            continue
        generation = None
        for partial in backends[role].generate_with_progress(messages, sampling):
            if isinstance(partial, str):
                texts = {**{k: v.text for k, v in answers.items()}, side: partial}
                yield CompareUpdate(stage, index, n, item, texts.get("A", ""), texts.get("B", ""), run_dir=run_dir)
            else:
                generation = partial
        answers[side] = generation
    yield CompareUpdate("judging", index, n, item, answers["A"].text, answers["B"].text, run_dir=run_dir)
    judge_free = judge_free_measures(item, answers, backends)
    judge_started = time.perf_counter()
    record = {
        "id": item.id, "prompt": item.prompt, "category": item.category, "reference": item.reference,
        "model_a": config.model_a, "model_b": config.model_b, "judge": config.judge, "mode": config.mode,
        "preset": preset, "sampling": sampling.to_dict(),
        "answers": {side: g.to_dict() for side, g in answers.items()},
        **judge_free,
    }
    if config.mode == "single":
        ja = judge_single(backends["judge"], template, item.prompt, answers["A"].text, config.judge_sampling,
                          item.reference, config.constrain_judge)
        jb = judge_single(backends["judge"], template, item.prompt, answers["B"].text, config.judge_sampling,
                          item.reference, config.constrain_judge)
        record.update(
            judgement={"A": ja.to_dict(), "B": jb.to_dict()},
            status=OK if ja.status == jb.status == OK else UNPARSED,
            scores={"A": ja.scores, "B": jb.scores}, totals={"A": ja.total, "B": jb.total},
            winner=single_winner(ja, jb), consistent=None, reasons={"A": ja.reasons, "B": jb.reasons},
        )
    else:
        verdict = judge_pair(backends["judge"], template, item.prompt, answers["A"].text, answers["B"].text,
                             config.judge_sampling, item.reference, swap=config.swap,
                             constrain=config.constrain_judge)
        record.update(
            judgement=verdict.to_dict(), status=verdict.status,
            scores={"A": verdict.scores_a, "B": verdict.scores_b},
            totals={"A": _total(verdict.scores_a), "B": _total(verdict.scores_b)},
            winner=verdict.winner, consistent=verdict.consistent, reasons={"A": verdict.reasons, "B": verdict.reasons},
        )
    record["timings"] = {
        "answer_a": answers["A"].seconds, "answer_b": answers["B"].seconds,
        "judge": round(time.perf_counter() - judge_started, 3), "total": round(time.perf_counter() - started, 3),
    }
    return record


def judge_free_measures(item: PromptItem, answers: dict, backends: dict | None = None) -> dict:
    """Per-prompt checks (pass/fail) and reference metrics: what can be known about an answer without a judge.

    With `backends`, each model's perplexity on the reference is added (None where the backend cannot score).
    """
    measures: dict = {}
    if item.checks:
        results = {side: run_checks(item.checks, g.text) for side, g in answers.items()}
        measures["checks"] = {side: [r.to_dict() for r in rs] for side, rs in results.items()}
        measures["checks_summary"] = {side: checks_summary(rs) for side, rs in results.items()}
    if item.reference:
        measures["reference_metrics"] = {side: reference_metrics(g.text, item.reference) for side, g in answers.items()}
        if backends:
            messages = [{"role": "user", "content": item.prompt}]
            for side, role in (("A", "model_a"), ("B", "model_b")):
                ppl = backends[role].perplexity(messages, item.reference)
                measures["reference_metrics"][side]["perplexity"] = None if ppl is None else round(ppl, 4)
    return measures


def _total(scores: dict | None) -> float | None:
    return None if scores is None else round(sum(scores.values()), 2)


def summarize(records: list[dict]) -> dict:
    """Counts, mean totals and the statistics of judge/stats.py, for the whole run and per sampling preset."""
    from judge.stats import summarize_run

    presets = list(dict.fromkeys(r.get("preset") or "custom" for r in records))
    summary = _counts(records)
    summary["stats"] = summarize_run(records) if records else {}
    if len(presets) > 1:
        summary["by_preset"] = {}
        for preset in presets:
            subset = [r for r in records if (r.get("preset") or "custom") == preset]
            summary["by_preset"][preset] = {**_counts(subset), "stats": summarize_run(subset)}
    return summary


def judge_free_summary(records: list[dict]) -> dict:
    """Per model: checks passed of run, and the mean of each reference metric over prompts that have one."""
    summary: dict = {}
    for side in ("A", "B"):
        checks = [r["checks_summary"][side] for r in records if "checks_summary" in r]
        metrics = [r["reference_metrics"][side] for r in records if "reference_metrics" in r]
        means = {}
        for name in ("rouge_l", "bleu", "perplexity"):
            values = [m[name] for m in metrics if m and m.get(name) is not None]
            means[name] = round(sum(values) / len(values), 4) if values else None
        summary[side] = {
            "checks_passed": sum(c["passed"] for c in checks), "checks_total": sum(c["total"] for c in checks),
            "prompts_all_checks_passed": sum(c["passed"] == c["total"] for c in checks),
            "prompts_with_checks": len(checks), "reference_means": means, "prompts_with_reference": len(metrics),
        }
    return summary


def _counts(records: list[dict]) -> dict:
    winners = [r.get("winner") for r in records]
    totals = {side: [r["totals"][side] for r in records if r["totals"].get(side) is not None] for side in ("A", "B")}
    return {
        "n": len(records),
        "wins": {"A": winners.count("A"), "B": winners.count("B"), "tie": winners.count("tie"),
                 "unknown": winners.count(None)},
        "unparsed": sum(r["status"] != OK for r in records),
        "inconsistent": sum(r.get("consistent") is False for r in records),
        "mean_total": {side: (round(sum(v) / len(v), 3) if v else None) for side, v in totals.items()},
        "judge_free": judge_free_summary(records),
    }
