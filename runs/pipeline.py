"""A comparison run: both models answer each prompt, the judge grades, every record is saved as it finishes.

`run_compare` is a generator of `CompareUpdate`s so the app can stream both answers as they are written and
the CLI can print each finished record; both drive the same code. With `concurrency` > 1 (the default where a
served model takes part) several prompts are in flight at once and records land in the order they finish.

Nothing generated is lost: a prompt whose generation or judging fails (a served model's request, a local backend's
error) becomes a `failed` record with the answers made so far, the run goes on, and a resume retries just those.
The run folder is made only once the models are loaded and every input is checked (runs/preflight.py), so a start
that fails leaves no empty folder behind.
"""
from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from analysis.checks import checks_summary, run_checks
from analysis.reference_metrics import reference_metrics
from basics import UserFacingError, now_iso, take_cache_notices
from judge.rewards import judged_rubric
from judge.templates import JudgeTemplate
from models import load_model
from models.endpoints import EndpointError
from models.errors import ModelSpecError
from models.threads import busy_notice
from runs.config import BATCH_SIZE, CompareConfig
from runs.costs import actual_cost, cost_line
from runs.fingerprints import describe_model, model_changes
from runs.judge_cache import cached_judges
from runs.preflight import check_start
from runs.prompt_sets import PromptItem
from runs.records import CompareRecord
from runs.store import (
    RunManifest,
    RunWriter,
    check_out_dir,
    git_commit,
    new_run_id,
    package_versions,
    read_records,
)
from runs.summary import summarize
from runs.system_prompts import SystemPrompts, run_system_prompts
from runs.verdicts import FAILED, judge_usage, verdict_fields
from runs.views import loading_text

# (prompt id, preset) -> {"A": Generation, "B": Generation}: answers made before the run, judged as they are.
GivenAnswers = Mapping[tuple[str, str], dict]


@dataclass
class CompareUpdate:
    stage: str  # "loading" | "answer_a" | "answer_b" | "judging" | "record" | "done"
    index: int  # 0-based prompt number
    total: int
    item: PromptItem | None = None
    answer_a: str = ""
    answer_b: str = ""
    record: dict | None = None  # CompareRecord.to_dict(), as saved
    run_dir: Path | None = None  # None until the run folder exists (after the models load and the inputs are checked)
    message: str = ""
    notes: list[str] = field(default_factory=list)  # things the person should know once (a repaired records file)
    chunk: int = 1  # answer stages: how many prompts, from `index` on, are being answered together


def run_compare(config: CompareConfig, items: list[PromptItem], label: str = "compare",
                given_answers: GivenAnswers | None = None) -> Iterator[CompareUpdate]:
    """Answer, judge and save every prompt at every sampling setting; yields progress, 'record's, then 'done'.

    `given_answers` maps (prompt id, preset) to both sides' finished Generations ({"A": ..., "B": ...}): those prompts
    are judged without being answered again (a sweep answers each model once and pairs the answers many times)."""
    template = config.validate()
    check_out_dir(config.out_dir)
    manifest = RunManifest(
        run_id=new_run_id(label), created=now_iso(), kind="compare", config=config.to_dict(),
        judge_template={"name": template.name, "mode": template.mode, "sha256": template.sha256,
                        "text": template.to_yaml()},
        packages=package_versions(), git_commit=git_commit(), prompts=[item.to_dict() for item in items],
    )
    yield from _run(config, template, items, manifest, writer=None, done=[], given=given_answers)


def resume_compare(run_dir: str | Path, long_prompts: str | None = None) -> Iterator[CompareUpdate]:
    """Finish an interrupted run in its own folder, skipping every (prompt, preset) already recorded. `long_prompts`
    overrides the run's choice for prompts too long for a model (a refused run can be resumed with 'truncate')."""
    writer = RunWriter.reopen(run_dir)
    manifest = writer.manifest
    try:
        try:
            config = CompareConfig.from_dict(manifest.config)
            config.template_text = manifest.judge_template["text"]  # the template exactly as the run began with it
            items = [PromptItem(**{**p, "checks": tuple(p.get("checks") or ())}) for p in manifest.prompts]
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise UserFacingError(f"{writer.folder / 'run.json'} is damaged ({type(exc).__name__}: {exc}): the run's "
                                  "settings cannot be read, so it cannot be resumed; run the comparison again") from exc
        if long_prompts:
            config.long_prompts = manifest.config["long_prompts"] = long_prompts
        try:
            template = config.validate()
        except ModelSpecError as exc:  # an adapter deleted or moved since the run began, a hub model gone
            raise ModelSpecError(f"cannot resume: a model this run names in its run.json cannot be loaded now ({exc}); "
                                 "put it back where the run found it, or start a new run; the finished records "
                                 "are kept") from exc
    except BaseException:
        writer.release()
        raise
    # Failed records are done again; read_records keeps the newest record of each (prompt, preset).
    done = [r for r in read_records(writer.folder) if r["status"] != FAILED]
    yield from _run(config, template, items, manifest, writer=writer, done=done)


def load_backends(config: CompareConfig) -> dict:
    """{"model_a", "model_b", "judges", "cache_stats", "system"}: every model of the run loaded (once each: the
    registry caches them), and the system prompts A and B get (runs/system_prompts.py)."""
    # The answering models first: a scoring judge whose base is one of them reads its features from that model, not
    # from a second copy (models/backends/head.py reading_base).
    model_a, model_b = load_model(config.model_a), load_model(config.model_b)
    judges, cache_stats = cached_judges([load_model(spec) for spec in config.judges], config.judge_cache)
    return {"model_a": model_a, "model_b": model_b, "judges": judges, "cache_stats": cache_stats,
            "system": run_system_prompts(config)}


def spec_notices(backends: dict) -> list[str]:
    """What resolving the models' names chose for the user (a GGUF file among several, a 4-bit base's full-precision
    twin), said with every record: the CLI prints each once, the page shows it beside the answers."""
    roles = [("model A", backends["model_a"]), ("model B", backends["model_b"]),
             *(("judge", judge) for judge in backends["judges"])]
    return [*(f"{role}: {notice}" for role, backend in roles for notice in backend.spec.notices),
            *backends.get("changes", ())]


def described_models(config: CompareConfig, backends: dict) -> dict:
    """run.json's `models`: each role's backend, capabilities and fingerprinted files (runs/fingerprints.py)."""
    models = {"model_a": describe_model(backends["model_a"]), "model_b": describe_model(backends["model_b"]),
              "judge": describe_model(backends["judges"][0])}
    if len(config.judges) > 1:
        models["panel"] = [describe_model(judge) for judge in backends["judges"]]
    return models


def _run(config, template, items, manifest: RunManifest, writer: RunWriter | None,
         done: list[dict], given: GivenAnswers | None = None) -> Iterator[CompareUpdate]:
    plan = config.sampling_plan()
    total = len(items) * len(plan)
    finished = {(r["id"], r.get("preset")) for r in done}
    yield CompareUpdate("loading", len(finished), total, run_dir=writer and writer.folder,
                        message=loading_text([config.model_a, config.model_b, *config.judges]),
                        notes=list(writer.notes) if writer else [])
    backends = load_backends(config)
    # What the records are scored on: the template's rubric, or a reward model's one `preference` (judge/rewards.py)
    backends["rubric"] = judged_rubric(template.rubric, backends["judges"]).to_dict()
    items, warnings = check_start(config, template, backends, items)
    described = described_models(config, backends)
    backends["changes"] = model_changes(manifest.models, described) if writer else []  # a resume: same weights?
    manifest.models.update(described)
    started_here = writer is None
    if started_here:
        writer = RunWriter(config.out_dir, manifest)
    else:
        writer.write_manifest()
    try:
        yield from _answer_all(config, template, backends, items, warnings, plan, writer, done, given or {})
    except BaseException:
        if started_here:
            writer.discard_if_empty()  # nothing was saved: no folder left to show as "unfinished"
        raise
    finally:
        writer.release()  # now, not when a traceback that holds this frame lets go of it


def _answer_all(config, template, backends, items, warnings, plan, writer, done, given) -> Iterator[CompareUpdate]:
    total = len(items) * len(plan)
    finished = {(r["id"], r.get("preset")) for r in done}
    records = list(done)
    index = len(finished)
    concurrency = config.resolved_concurrency()
    system = backends["system"]
    models = spec_notices(backends)
    item_notes = {item.id: [*models, *(warnings.get(item.id) or []), *system.item_notices(item)] or None
                  for item in items}
    for preset, sampling in plan:
        pending = [item for item in items if (item.id, preset) not in finished]
        answered = [item for item in pending if _given(given, item, preset)]
        for item in answered:  # answered before the run: judged only, so nothing is batched or generated for them
            record = yield from _guarded_item(config, template, backends, item, index, total, writer.folder, preset,
                                              sampling, _given(given, item, preset), item_notes.get(item.id))
            writer.append(record)
            records.append(record)
            yield CompareUpdate("record", index, total, item, record["answers"]["A"]["text"],
                                record["answers"]["B"]["text"], record=record, run_dir=writer.folder)
            index += 1
        pending = [item for item in pending if not _given(given, item, preset)]
        if concurrency > 1 and len(pending) > 1:
            for record in _concurrent_records(config, template, backends, pending, preset, sampling, concurrency,
                                              item_notes):
                writer.append(record)
                records.append(record)
                yield CompareUpdate("record", index, total, _item_of(pending, record), record["answers"]["A"]["text"],
                                    record["answers"]["B"]["text"], record=record, run_dir=writer.folder)
                index += 1
            continue
        # One prompt streams its answers; a set is answered in batches (several prompts per forward pass). Where the
        # judge does not compete with the answering models for the same cores (a server or a GPU does one of them),
        # the next chunk's answers are generated while a chunk is judged and saved, so a crash loses at most the
        # answers of the chunk being judged and of the next. On one CPU both would run slower than in turn
        # (benchmarks/study_speed.py --overlap).
        # Where nothing overlaps, a chunk is answered in this thread, the one the judge reads in: torch and llama.cpp
        # share one OpenMP runtime, and llama.cpp generated at 0.78x in another thread than the one torch had
        # computed in (benchmarks/torch_before_llamacpp.py).
        chunk_size = BATCH_SIZE if len(pending) > 1 else 1
        chunks = [pending[start:start + chunk_size] for start in range(0, len(pending), chunk_size)]
        overlap = answers_overlap_judging(backends)
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="answers-ahead") if overlap else None
        try:
            coming = _answers_ahead(ahead, backends, chunks[0], sampling) if overlap and chunks else None
            for number, chunk in enumerate(chunks):
                answers = None
                if len(chunk) > 1:  # a chunk of one streams its answers instead
                    yield CompareUpdate("answer_a", index, total, chunk[0], run_dir=writer.folder,
                                        message=f"answering prompts {index + 1}-{index + len(chunk)} together",
                                        chunk=len(chunk))
                    answers = coming.result() if coming is not None else _batch_answers(backends, chunk, sampling)
                coming = (_answers_ahead(ahead, backends, chunks[number + 1], sampling)
                          if overlap and number + 1 < len(chunks) else None)
                for offset, item in enumerate(chunk):
                    record = yield from _guarded_item(config, template, backends, item, index, total, writer.folder,
                                                      preset, sampling, answers[offset] if answers else None,
                                                      item_notes.get(item.id))
                    writer.append(record)
                    records.append(record)
                    yield CompareUpdate("record", index, total, item, record["answers"]["A"]["text"],
                                        record["answers"]["B"]["text"], record=record, run_dir=writer.folder)
                    index += 1
        finally:
            if ahead is not None:
                ahead.shutdown(wait=False, cancel_futures=True)  # a stopped run does not wait for answers it will drop
    summary = summarize(records)
    if backends["cache_stats"] is not None:
        summary["judge_cache"] = asdict(backends["cache_stats"])
    summary["cost"] = actual_cost(records, config)
    writer.finish(summary)
    failed = summary["failed"]
    retry = f"; {failed} failed: finish them with --resume {writer.folder}" if failed else ""
    yield CompareUpdate("done", total, total, run_dir=writer.folder,
                        message=f"saved to {writer.folder}{retry}; {cost_line(summary['cost'], 'cost')}")


def _guarded_item(config, template, backends, item, index, total, run_dir, preset, sampling, answers=None,
                  warnings=None):
    """_compare_item, with a failure on this prompt (a served model's request, a local backend's error, the judge's)
    turned into a `failed` record that keeps the answers made so far, instead of an error that ends the run. A
    UserFacingError other than a request's is about the run's settings, not this prompt: it still ends the run."""
    made = dict(answers or {})
    doing = {"what": "model A"}
    try:
        return (yield from _compare_item(config, template, backends, item, index, total, run_dir, preset, sampling,
                                         made, warnings, doing))
    except Exception as exc:
        if isinstance(exc, UserFacingError) and not isinstance(exc, EndpointError):
            raise
        error = str(exc) if isinstance(exc, EndpointError) else (
            f"{doing['what']} failed on this prompt ({type(exc).__name__}: {exc}); a resume retries it")
        return failed_record(config, template, item, preset, sampling, error, made, warnings, backends["system"],
                             backends.get("rubric"))


def _concurrent_records(config, template, backends, pending: list[PromptItem], preset: str, sampling,
                        concurrency: int, item_notes: dict) -> Iterator[dict]:
    """Records of `pending`, up to `concurrency` prompts in flight, in the order they finish."""
    def one(item: PromptItem) -> dict:
        updates = _guarded_item(config, template, backends, item, 0, 0, None, preset, sampling,
                                warnings=item_notes.get(item.id))
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


def _given(given: GivenAnswers, item: PromptItem, preset: str) -> dict | None:
    """Both sides' given answers to a prompt at a preset (a copy: the judging step adds to it), or None."""
    answers = given.get((item.id, preset))
    return dict(answers) if answers and answers.get("A") and answers.get("B") else None


def _item_of(items: list[PromptItem], record: dict) -> PromptItem | None:
    return next((item for item in items if item.id == record["id"]), None)


def failed_record(config: CompareConfig, template: JudgeTemplate, item: PromptItem, preset: str, sampling,
                  error: str, answers: dict | None = None, warnings: list | None = None,
                  system: SystemPrompts | None = None, rubric: dict | None = None) -> dict:
    """A record for a prompt that failed: no verdict, the error said, the answers made before it kept; a resume
    retries it."""
    made = {side: g.to_dict() for side, g in (answers or {}).items() if g is not None}
    system = system or SystemPrompts(config.system_a, config.system_b)
    return CompareRecord(
        id=item.id, prompt=item.prompt, category=item.category, reference=item.reference,
        model_a=config.model_a, model_b=config.model_b, judge=config.judge_label, mode=config.mode,
        preset=preset, sampling=sampling.to_dict(), rubric=rubric or template.rubric.to_dict(),
        answers={side: made.get(side) or {"text": "", "n_tokens": None} for side in ("A", "B")}, status=FAILED,
        error=error, scores={"A": None, "B": None}, totals={"A": None, "B": None}, winner=None,
        warnings=[*(warnings or []), *take_cache_notices()] or None, **system.record_fields(item),
    ).to_dict()


def answers_overlap_judging(backends: dict) -> bool:
    """Whether the next chunk is answered while this one is judged: unless the answering models and the judges all
    compute on this machine's CPU, where they would only slow each other down."""
    stages = [backends["model_a"], backends["model_b"], *backends["judges"]]
    return not all(backend.computes_on_this_cpu for backend in stages)


def _answers_ahead(pool: ThreadPoolExecutor, backends, chunk: list[PromptItem], sampling):
    """A chunk's batched answers, started in the background (None for a chunk of one: it streams instead)."""
    return pool.submit(_batch_answers, backends, chunk, sampling) if len(chunk) > 1 else None


def _batch_answers(backends, chunk: list[PromptItem], sampling) -> list[dict] | None:
    """Both models' answers to a chunk in batches; None when a batch fails, so each prompt is answered alone and only
    the one that fails is recorded as failed."""
    system = backends["system"]
    try:
        by_side = {side: backends[role].generate_batch([system.messages(side, item) for item in chunk], sampling,
                                                       batch_size=len(chunk))
                   for side, role in (("A", "model_a"), ("B", "model_b"))}
    except UserFacingError as exc:
        if not isinstance(exc, EndpointError):
            raise
        return None
    except Exception:  # which prompt failed is found by answering them one by one
        return None
    return [{"A": a, "B": b} for a, b in zip(by_side["A"], by_side["B"])]


def _compare_item(config: CompareConfig, template: JudgeTemplate, backends: dict, item: PromptItem, index: int,
                  n: int, run_dir: Path, preset: str, sampling, answers: dict, warnings: list | None = None,
                  doing: dict | None = None):
    """One record; `answers` is filled as each answer finishes (the caller keeps them if a later step fails)."""
    started = time.perf_counter()
    doing = doing if doing is not None else {}
    for side, role, stage in (("A", "model_a", "answer_a"), ("B", "model_b", "answer_b")):
        if side in answers:
            continue
        doing["what"] = f"model {side} ({backends[role].spec.text})"
        generation = None
        for partial in backends[role].generate_with_progress(backends["system"].messages(side, item), sampling):
            if isinstance(partial, str):
                texts = {**{k: v.text for k, v in answers.items()}, side: partial}
                yield CompareUpdate(stage, index, n, item, texts.get("A", ""), texts.get("B", ""), run_dir=run_dir)
            else:
                generation = partial
        answers[side] = generation
    yield CompareUpdate("judging", index, n, item, answers["A"].text, answers["B"].text, run_dir=run_dir)
    doing["what"] = f"the judge ({config.judge_label})"
    judge_free = judge_free_measures(item, answers, backends)
    judge_started = time.perf_counter()
    verdict = verdict_fields(config, template, backends["judges"], item, answers["A"].text, answers["B"].text)
    usage = {side: {"input": g.input_tokens, "output": g.n_tokens} for side, g in answers.items()}
    record = CompareRecord(
        id=item.id, prompt=item.prompt, category=item.category, reference=item.reference,
        model_a=config.model_a, model_b=config.model_b, judge=config.judge_label, mode=config.mode,
        preset=preset, sampling=sampling.to_dict(), rubric=backends.get("rubric") or template.rubric.to_dict(),
        answers={side: g.to_dict() for side, g in answers.items()}, **verdict, **judge_free,
        usage={**usage, "judge": judge_usage(verdict["judgement"])},
        timings={"answer_a": answers["A"].seconds, "answer_b": answers["B"].seconds,
                 "judge": round(time.perf_counter() - judge_started, 3),
                 "total": round(time.perf_counter() - started, 3)},
        # A busy machine and a damaged cache rebuilt are said once, on the record made when they were noticed.
        warnings=[*(warnings or []), *filter(None, [busy_notice()]), *take_cache_notices()] or None,
        **backends["system"].record_fields(item),
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
            for side, role in (("A", "model_a"), ("B", "model_b")):
                ppl = backends[role].perplexity(backends["system"].messages(side, item), item.reference)
                measures["reference_metrics"][side]["perplexity"] = None if ppl is None else round(ppl, 4)
    return measures

