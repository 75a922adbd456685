"""Typed records with a format version: today's records round-trip, and records written before versions existed
(version 1: no schema_version, no rubric) still read, with their rubric recovered."""
import json

import pytest

from basics import UserFacingError
from judge.rubric import Rubric
from runs.records import SCHEMA_VERSION, CompareRecord, normalize_records
from runs.store import load_run, read_records

from run_builders import make_record, write_run

# A record exactly as the pipeline wrote it before this version (taken from a real run's records.jsonl).
VERSION_1_LINE = {
    "id": "study-01", "prompt": "Explain how to bake a chocolate cake without using eggs.", "category": "",
    "reference": "", "model_a": "smollm2-135m", "model_b": "smollm2-135m-gguf", "judge": "smollm2-135m-gguf",
    "mode": "single", "preset": "p1", "sampling": {"temperature": 0.5, "min_p": 0.05, "top_p": 1.0,
                                                  "max_new_tokens": 8, "seed": 0},
    "answers": {"A": {"text": "To bake a", "n_tokens": 8, "seconds": 0.3, "first_token_seconds": 0.1,
                      "tokens_per_second": 26.7},
                "B": {"text": "Baking a cake", "n_tokens": 8, "seconds": 0.1, "first_token_seconds": 0.02,
                      "tokens_per_second": 80.0}},
    "judgement": {"A": {"status": "ok"}, "B": {"status": "ok"}}, "status": "ok",
    "scores": {"A": {"relevance": 3, "coherence": 2, "completeness": 2},
               "B": {"relevance": 4, "coherence": 3, "completeness": 3}},
    "totals": {"A": 7, "B": 10}, "winner": "B", "consistent": None, "reasons": {"A": "ok", "B": "good"},
    "timings": {"answer_a": 0.3, "answer_b": 0.1, "judge": 2.0, "total": 2.4},
}


def test_a_version_1_record_reads_with_every_field_and_its_rubric():
    record = CompareRecord.from_dict(VERSION_1_LINE)
    assert record.schema_version == SCHEMA_VERSION
    assert record.rubric == {"criteria": ["relevance", "coherence", "completeness"], "scale": [1, 4]}
    assert record.key == ("study-01", "p1") and record.winner == "B" and record.totals == {"A": 7, "B": 10}
    data = record.to_dict()
    assert "checks" not in data and "reference_metrics" not in data  # absent measures stay absent
    assert {k: data[k] for k in VERSION_1_LINE} == VERSION_1_LINE  # nothing it had is changed or lost


def test_the_run_s_template_gives_a_version_1_record_its_scale():
    ten_point = Rubric(("relevance", "coherence", "completeness"), (1, 10))
    assert CompareRecord.from_dict(VERSION_1_LINE, ten_point).rubric_obj == ten_point


def test_a_current_record_round_trips():
    record = CompareRecord.from_dict(VERSION_1_LINE)
    assert CompareRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_a_half_written_or_unparsed_record_gets_the_missing_fields():
    (data,) = normalize_records([{"id": "x", "winner": None, "scores": {"A": None}}])
    assert data["scores"] == {"A": None, "B": None} and data["totals"] == {"A": None, "B": None}
    assert data["answers"]["B"]["text"] == "" and data["status"] == "unparsed" and data["reasons"] == {}


def test_a_record_from_a_newer_program_is_refused_with_the_fix():
    with pytest.raises(UserFacingError, match="newer than this program reads .* update the program"):
        CompareRecord.from_dict({**VERSION_1_LINE, "schema_version": SCHEMA_VERSION + 1})


def test_a_run_folder_of_version_1_records_loads(tmp_path):
    folder = write_run(tmp_path, "old-run", "2026-01-01T00:00:00+00:00",
                       [VERSION_1_LINE, make_record("q2", "p1", (4, 4, 4), (1, 1, 1), "A")])
    raw = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    assert all("schema_version" not in r for r in raw)  # written as before
    run = load_run(folder)
    assert [r["schema_version"] for r in run.records] == [SCHEMA_VERSION] * 2
    assert run.rubric.max_total == 12
    assert [r["id"] for r in read_records(folder)] == ["study-01", "q2"]
