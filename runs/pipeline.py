"""A comparison run: both models answer each prompt, the judge grades, every record is saved as it finishes.

`run_compare` is a generator of `CompareUpdate`s so the app can stream both answers as they are written and
the CLI can print each finished record; both drive the same code.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from analysis.checks import checks_summary, run_checks
from analysis.reference_metrics import reference_metrics
from basics import now_iso
from judge.judging import OK, UNPARSED, judge_pair, judge_single, single_winner
from judge.templates import JudgeTemplate
from models import load_model
from runs.config import BATCH_SIZE, CompareConfig, resolve_method
from runs.prompt_sets import PromptItem
from runs.records import CompareRecord
from runs.store import RunManifest, RunWriter, git_commit, new_run_id, package_versions, read_records
from runs.summary import summarize


@dataclass
class CompareUpdate:
    stage: str  # "loading" | "answer_a" | "answer_b" | "judging" | "record" | "done"
    index: int  # 0-based prompt number
    total: int
    item: PromptItem | None = None
    answer_a: str = ""
    answer_b: str = ""
    record: dict | None = None  # CompareRecord.to_dict(), as saved
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


def _compare_item(config: CompareConfig, template: JudgeTemplate, backends: dict, item: PromptItem, index: int,
                  n: int, run_dir: Path, preset: str, sampling, answers: dict | None = None):
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
    verdict = _judge(config, template, backends["judge"], item, answers["A"].text, answers["B"].text)
    record = CompareRecord(
        id=item.id, prompt=item.prompt, category=item.category, reference=item.reference,
        model_a=config.model_a, model_b=config.model_b, judge=config.judge, mode=config.mode,
        preset=preset, sampling=sampling.to_dict(), rubric=template.rubric.to_dict(),
        answers={side: g.to_dict() for side, g in answers.items()}, **verdict, **judge_free,
        timings={"answer_a": answers["A"].seconds, "answer_b": answers["B"].seconds,
                 "judge": round(time.perf_counter() - judge_started, 3),
                 "total": round(time.perf_counter() - started, 3)},
    )
    return record.to_dict()


def _judge(config: CompareConfig, template: JudgeTemplate, judge, item: PromptItem, answer_a: str,
           answer_b: str) -> dict:
    """The verdict fields of a record: judgement, status, scores, totals, winner, consistent, reasons."""
    method = resolve_method(config.judge_method, judge)
    options = dict(constrain=config.constrain_judge, method=method, reasons=config.judge_reasons)
    if config.mode == "single":
        ja, jb = (judge_single(judge, template, item.prompt, answer, config.judge_sampling, item.reference, **options)
                  for answer in (answer_a, answer_b))
        return dict(judgement={"A": ja.to_dict(), "B": jb.to_dict()}, method=method,
                    status=OK if ja.status == jb.status == OK else UNPARSED,
                    scores={"A": ja.scores, "B": jb.scores}, totals={"A": ja.total, "B": jb.total},
                    winner=single_winner(ja, jb), consistent=None, reasons={"A": ja.reasons, "B": jb.reasons})
    verdict = judge_pair(judge, template, item.prompt, answer_a, answer_b, config.judge_sampling, item.reference,
                         swap=config.swap, **options)
    return dict(judgement=verdict.to_dict(), status=verdict.status, method=method,
                scores={"A": verdict.scores_a, "B": verdict.scores_b},
                totals={"A": _total(verdict.scores_a), "B": _total(verdict.scores_b)},
                winner=verdict.winner, consistent=verdict.consistent,
                reasons={"A": verdict.reasons, "B": verdict.reasons})


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
