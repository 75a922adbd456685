"""Prompt-set runs: several presets in one run, resume after a crash, CSV sets, judge-free measures per record."""
import json
from pathlib import Path

import pytest

from models import SamplingSettings
from runs.config import CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import PromptSetError, load_prompt_set

from helpers import judge_cli, kill_after_first_record

FAST = ["--max-new-tokens", "8", "--judge-max-new-tokens", "32"]


def records_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]


@pytest.mark.model
def test_killed_run_resumes_without_redoing_or_losing_records(tmp_path):
    folder = kill_after_first_record("--prompts", "study", "--limit", "4", *FAST, out=tmp_path, total=4)
    before = (folder / "records.jsonl").read_text()
    assert 1 <= len(before.splitlines()) < 4 and not (folder / "summary.json").exists()
    records = [json.loads(line) for line in before.splitlines()]  # every line is a complete record
    assert records[0]["id"] == "study-01" and records[0]["answers"]["A"]["text"]

    result = judge_cli("--resume", str(folder), out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip().splitlines()[-1]) == folder
    after = (folder / "records.jsonl").read_text()
    assert after.startswith(before), "finished records are kept as they were"
    assert [r["id"] for r in records_of(folder)] == ["study-01", "study-02", "study-03", "study-04"]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n"] == 4

    again = judge_cli("--resume", str(folder), out=tmp_path)
    assert again.returncode == 2 and "already finished" in again.stderr


@pytest.mark.model
def test_two_presets_in_one_run_give_the_study_table(tmp_path):
    result = judge_cli("--prompts", "study", "--limit", "2", "--preset", "p1,p2", *FAST, out=tmp_path)
    assert result.returncode == 0, result.stderr
    folder = Path(result.stdout.strip().splitlines()[-1])
    records = records_of(folder)
    assert [(r["id"], r["preset"]) for r in records] == [
        ("study-01", "p1"), ("study-02", "p1"), ("study-01", "p2"), ("study-02", "p2")]
    assert {r["preset"]: r["sampling"]["temperature"] for r in records} == {"p1": 0.5, "p2": 1.5}
    assert {r["preset"]: r["sampling"]["min_p"] for r in records} == {"p1": 0.05, "p2": 0.1}
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["by_preset"]) == {"p1", "p2"}
    assert summary["by_preset"]["p1"]["n"] == 2 and "win_rate" in json.dumps(summary["by_preset"]["p2"]["stats"])


def test_the_same_preset_twice_is_refused(tmp_path):
    result = judge_cli("--prompt", "hi", "--preset", "p1,p1", out=tmp_path)
    assert result.returncode == 2 and "each preset may appear once" in result.stderr


@pytest.mark.model
def test_records_carry_checks_and_reference_metrics(tmp_path):
    prompts = tmp_path / "set.jsonl"
    prompts.write_text(json.dumps({
        "id": "sum", "prompt": "What is 2 + 2? Answer with the number only.", "reference": "4",
        "checks": [{"type": "contains", "value": "4"}, {"type": "max_words", "value": 3}],
    }) + "\n", encoding="utf-8")
    config = CompareConfig(sampling=SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=8),
                           judge_sampling=SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=32),
                           out_dir=str(tmp_path / "runs"))
    *_, done = run_compare(config, load_prompt_set(prompts))
    (record,) = records_of(done.run_dir)
    for side in "AB":
        answer = record["answers"][side]["text"]
        results = {r["type"]: r["passed"] for r in record["checks"][side]}
        assert results["contains"] == ("4" in answer)
        assert results["max_words"] == (len(answer.split()) <= 3)
        assert record["checks_summary"][side]["total"] == 2
        metrics = record["reference_metrics"][side]
        assert 0.0 <= metrics["rouge_l"] <= 1.0 and 0.0 <= metrics["bleu"] <= 100.0
    summary = json.loads((done.run_dir / "summary.json").read_text())["judge_free"]
    for side in "AB":
        passed = sum(r["passed"] for r in record["checks"][side])
        assert summary[side]["checks_passed"] == passed and summary[side]["checks_total"] == 2
        assert summary[side]["reference_means"]["rouge_l"] == record["reference_metrics"][side]["rouge_l"]
    # both default models score the reference (llama.cpp reads the reference's logits in its batch context)
    assert record["reference_metrics"]["A"]["perplexity"] > 1.0 and record["reference_metrics"]["B"]["perplexity"] > 1.0


def test_csv_prompt_set_with_checks(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text('id,prompt,category,checks\n'
                    'a,"Say hi, briefly.",writing,"[{""type"": ""max_words"", ""value"": 5}]"\n'
                    'b,Name a prime number.,math,\n', encoding="utf-8")
    items = load_prompt_set(path)
    assert [i.id for i in items] == ["a", "b"]
    assert items[0].prompt == "Say hi, briefly." and items[0].checks == ({"type": "max_words", "value": 5},)


@pytest.mark.parametrize("content, expected", [
    ("question\nhello\n", "needs a header row with a 'prompt' column"),
    ('prompt,checks\nhi,"[{""type"": ""shout""}]"\n', "mine.csv line 2, check 1"),
    ('prompt,checks\nhi,not json\n', "mine.csv line 2: the checks column is not a JSON list"),
])
def test_bad_csv_prompt_sets_name_the_problem(tmp_path, content, expected):
    path = tmp_path / "mine.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(PromptSetError if "check 1" not in expected else Exception) as caught:
        load_prompt_set(path)
    assert expected in str(caught.value)


def test_shipped_general_set_loads_with_its_checks():
    items = load_prompt_set("general")
    assert len(items) >= 80
    assert len({i.category for i in items}) == 7
    assert sum(bool(i.checks) for i in items) >= 30 and sum(bool(i.reference) for i in items) >= 40


@pytest.mark.model
def test_prompt_set_answers_are_batched_and_equal_one_at_a_time_answers(tmp_path):
    greedy = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=8)
    config = CompareConfig(sampling=greedy, judge_sampling=SamplingSettings(temperature=0.0, min_p=0.0,
                           max_new_tokens=24), out_dir=str(tmp_path))
    items = load_prompt_set("study")[:3]
    updates = list(run_compare(config, items))
    assert any("together" in u.message for u in updates), "a prompt set is answered in batches (a chunk together)"
    batched = [u.record["answers"]["A"]["text"] for u in updates if u.stage == "record"]
    single = []
    for item in items:
        *_, done = run_compare(config, [item])
        single.append(records_of(done.run_dir)[0]["answers"]["A"]["text"])
    assert batched == single
