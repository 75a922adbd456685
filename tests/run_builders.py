"""Hand-made run folders (records written as version 1, before records carried a rubric or a format version), for
the dashboard and Results tab tests: no model runs."""
from pathlib import Path

from runs.store import RunManifest, RunWriter
from runs.summary import summarize

CRITERIA = ("relevance", "coherence", "completeness")


def make_record(rid, preset, a, b, winner, mode="single", consistent=None, checks=None):
    """A version-1 record, shaped as runs/pipeline.py wrote them before records carried a rubric; `a`/`b` are per-criterion score triples or None (unparsed)."""
    scores = {side: (dict(zip(CRITERIA, s)) if s else None) for side, s in (("A", a), ("B", b))}
    totals = {side: (sum(s.values()) if s else None) for side, s in scores.items()}
    status = "ok" if a and b else "unparsed"
    record = {
        "id": rid, "prompt": f"Prompt {rid}?", "category": "demo", "reference": None,
        "model_a": "model-a", "model_b": "model-b", "judge": "judge-x", "mode": mode, "preset": preset,
        "sampling": {"temperature": 0.5}, "status": status, "scores": scores, "totals": totals, "winner": winner,
        "consistent": consistent, "reasons": {"A": f"A reasons {rid}", "B": f"B reasons {rid}"},
        "answers": {side: {"text": f"Answer {side} to {rid} " + "word " * (5 + 3 * i), "n_tokens": 5 + 3 * i,
                           "seconds": 0.5} for i, side in enumerate(("A", "B"))},
        "timings": {"answer_a": 0.5, "answer_b": 0.5, "judge": 1.0, "total": 2.0},
    }
    if mode == "single":
        record["judgement"] = {side: {"status": "ok" if scores[side] else "unparsed", "reasons": f"r{side}",
                                      "call": {"error": None if scores[side] else "no scores"}} for side in "AB"}
    else:
        verdicts = {True: ("A", "A") if winner == "A" else ("B", "B"), False: ("A", "B")}.get(consistent)
        record["judgement"] = {"orders": [] if verdicts is None else [
            {"order": "AB", "status": "ok", "verdict": verdicts[0], "reasons": "x", "call": {}},
            {"order": "BA", "status": "ok", "verdict": verdicts[1], "reasons": "y", "call": {}}]}
    if checks:
        record["checks_summary"] = {side: {"passed": p, "total": 2, "failed": []} for side, p in zip("AB", checks)}
    return record


RUN1 = [  # single mode, presets p1 and p2
    make_record("q1", "p1", (4, 4, 4), (3, 3, 3), "A", checks=(2, 1)),
    make_record("q1", "p2", (3, 3, 3), (4, 3, 3), "B"),
    make_record("q2", "p1", (4, 3, 3), (4, 3, 3), "tie"),
    make_record("q2", "p2", (4, 4, 3), (2, 2, 2), "A"),
    make_record("q3", "p1", None, (3, 3, 3), None),
    make_record("q3", "p2", (2, 2, 2), (3, 3, 3), "B"),
    make_record("q4", "p1", (4, 4, 4), (2, 2, 2), "A"),
    make_record("q4", "p2", (4, 4, 3), (3, 2, 2), "A"),
]
RUN2 = [  # pairwise, p1 only
    make_record("q1", "p1", (4, 4, 4), (3, 3, 3), "A", "pairwise", True),
    make_record("q2", "p1", (3, 3, 3), (4, 3, 3), "tie", "pairwise", False),
    make_record("q3", "p1", (4, 3, 3), (3, 3, 2), "A", "pairwise", True),
    make_record("q4", "p1", None, None, None, "pairwise", None),
]
RUN3 = [  # unfinished: no summary.json
    make_record("q1", "p1", (2, 3, 3), (4, 4, 4), "B"),
    make_record("q2", "p1", (4, 3, 3), (4, 3, 3), "tie"),
]


def write_run(out_dir, label, created, records, mode="single", finish=True) -> Path:
    manifest = RunManifest(run_id=label, created=created, kind="compare", judge_template={"name": "t"},
                           config={"model_a": "model-a", "model_b": "model-b", "judge": "judge-x", "mode": mode})
    writer = RunWriter(out_dir, manifest)
    for record in records:
        writer.append(record)
    if finish:
        writer.finish(summarize(records))
    return writer.folder


def write_demo_runs(out_dir) -> list[Path]:
    return [write_run(out_dir, "run-one", "2026-01-01T00:00:00+00:00", RUN1),
            write_run(out_dir, "run-two", "2026-01-02T00:00:00+00:00", RUN2, mode="pairwise"),
            write_run(out_dir, "run-three", "2026-01-03T00:00:00+00:00", RUN3, finish=False)]
