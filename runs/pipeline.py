"""A comparison run: both models answer each prompt, the judge grades, every record is saved as it finishes.

`run_compare` is a generator of `CompareUpdate`s so the app can stream both answers as they are written and
the CLI can print each finished record; both drive the same code. With `concurrency` > 1 (the default where a
served model takes part) several prompts are in flight at once and records land in the order they finish; a served
model's failed request fails that record only (status `failed`, its error kept), and a resume retries just those.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

from analysis.checks import checks_summary, run_checks
from analysis.reference_metrics import reference_metrics
from basics import now_iso
from judge.templates import JudgeTemplate
from models import load_model
from models.endpoints import EndpointError
from runs.config import BATCH_SIZE, CompareConfig
from runs.costs import actual_cost, cost_line
from runs.judge_cache import cached_judges
from runs.prompt_sets import PromptItem
from runs.records import CompareRecord
from runs.store import RunManifest, RunWriter, git_commit, new_run_id, package_versions, read_records
from runs.summary import summarize
from runs.verdicts import FAILED, judge_usage, verdict_fields


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
    # Failed records are done again; read_records keeps the newest record of each (prompt, preset).
    done = [r for r in read_records(writer.folder) if r["status"] != FAILED]
    yield from _run(config, template, items, writer, done=done)


def load_backends(config: CompareConfig, writer: RunWriter | None = None) -> dict:
    """{"model_a", "model_b", "judges"}: every model of the run loaded (once each: the registry caches them)."""
    judges, cache_stats = cached_judges([load_model(spec) for spec in config.judges], config.judge_cache)
    backends = {"model_a": load_model(config.model_a), "model_b": load_model(config.model_b), "judges": judges,
                "cache_stats": cache_stats}
    if writer is not None:
        writer.manifest.models.update(model_a=backends["model_a"].describe(), model_b=backends["model_b"].describe(),
                                      judge=backends["judges"][0].describe())
        if len(config.judges) > 1:
            writer.manifest.models["panel"] = [judge.describe() for judge in backends["judges"]]
        writer.write_manifest()
    return backends


def _run(config, template, items, writer: RunWriter, done: list[dict]) -> Iterator[CompareUpdate]:
    plan = config.sampling_plan()
    total = len(items) * len(plan)
    finished = {(r["id"], r.get("preset")) for r in done}
    yield CompareUpdate("loading", len(finished), total, run_dir=writer.folder, message="loading models")
    backends = load_backends(config, writer)
    records = list(done)
    index = len(finished)
    concurrency = config.resolved_concurrency()
    for preset, sampling in plan:
        pending = [item for item in items if (item.id, preset) not in finished]
        if concurrency > 1 and len(pending) > 1:
            for record in _concurrent_records(config, template, backends, pending, preset, sampling, concurrency):
                writer.append(record)
                records.append(record)
                yield CompareUpdate("record", index, total, _item_of(pending, record), record["answers"]["A"]["text"],
                                    record["answers"]["B"]["text"], record=record, run_dir=writer.folder)
                index += 1
            continue
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
                record = yield from _guarded_item(config, template, backends, item, index, total, writer.folder,
                                                  preset, sampling, answers[offset] if answers else None)
                writer.append(record)
                records.append(record)
                yield CompareUpdate("record", index, total, item, record["answers"]["A"]["text"],
                                    record["answers"]["B"]["text"], record=record, run_dir=writer.folder)
                index += 1
    summary = summarize(records)
    if backends["cache_stats"] is not None:
        summary["judge_cache"] = asdict(backends["cache_stats"])
    summary["cost"] = actual_cost(records, config)
    writer.finish(summary)
    failed = summary["failed"]
    retry = f"; {failed} failed: finish them with --resume {writer.folder}" if failed else ""
    yield CompareUpdate("done", total, total, run_dir=writer.folder,
                        message=f"saved to {writer.folder}{retry}; {cost_line(summary['cost'], 'cost')}")


def _guarded_item(config, template, backends, item, index, total, run_dir, preset, sampling, answers=None):
    """_compare_item, with a served model's failed request turned into a `failed` record instead of an error."""
    try:
        return (yield from _compare_item(config, template, backends, item, index, total, run_dir, preset, sampling,
                                         answers))
    except EndpointError as exc:
        return failed_record(config, template, item, preset, sampling, str(exc))


def _concurrent_records(config, template, backends, pending: list[PromptItem], preset: str, sampling,
                        concurrency: int) -> Iterator[dict]:
    """Records of `pending`, up to `concurrency` prompts in flight, in the order they finish."""
    def one(item: PromptItem) -> dict:
        updates = _guarded_item(config, template, backends, item, 0, 0, None, preset, sampling)
        while True:
            try:
                next(updates)
            except StopIteration as stop:
                return stop.value

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="compare") as pool:
        queue = iter(pending)
        running = {pool.submit(one, item) for item in [next(queue) for _ in range(min(concurrency, len(pending)))]}
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                item = next(queue, None)
                if item is not None:
                    running.add(pool.submit(one, item))
                yield future.result()


def _item_of(items: list[PromptItem], record: dict) -> PromptItem | None:
    return next((item for item in items if item.id == record["id"]), None)


def failed_record(config: CompareConfig, template: JudgeTemplate, item: PromptItem, preset: str, sampling,
                  error: str) -> dict:
    """A record for a prompt whose served model failed: no verdict, the error said, retried by a resume."""
    return CompareRecord(
        id=item.id, prompt=item.prompt, category=item.category, reference=item.reference,
        model_a=config.model_a, model_b=config.model_b, judge=config.judge_label, mode=config.mode,
        preset=preset, sampling=sampling.to_dict(), rubric=template.rubric.to_dict(),
        answers={side: {"text": "", "n_tokens": None} for side in ("A", "B")}, status=FAILED,
        error=error, scores={"A": None, "B": None}, totals={"A": None, "B": None}, winner=None,
    ).to_dict()


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
    verdict = verdict_fields(config, template, backends["judges"], item, answers["A"].text, answers["B"].text)
    usage = {side: {"input": g.input_tokens, "output": g.n_tokens} for side, g in answers.items()}
    record = CompareRecord(
        id=item.id, prompt=item.prompt, category=item.category, reference=item.reference,
        model_a=config.model_a, model_b=config.model_b, judge=config.judge_label, mode=config.mode,
        preset=preset, sampling=sampling.to_dict(), rubric=template.rubric.to_dict(),
        answers={side: g.to_dict() for side, g in answers.items()}, **verdict, **judge_free,
        usage={**usage, "judge": judge_usage(verdict["judgement"])},
        timings={"answer_a": answers["A"].seconds, "answer_b": answers["B"].seconds,
                 "judge": round(time.perf_counter() - judge_started, 3),
                 "total": round(time.perf_counter() - started, 3)},
    )
    return record.to_dict()


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

