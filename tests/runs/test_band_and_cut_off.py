"""The band of no difference and cut-off answers through the pipeline and the CLI, on scripted models (given replies,
no weights): the record, summary.json, run.json and the closing summary the CLI prints after the last prompt."""
import json
from pathlib import Path

import pytest

from lab.trust import trust_line
from runs.config import CompareConfig
from runs.pipeline import run_compare
from runs.prompt_sets import PromptItem
from runs.store import read_records
from runs.views import timings_line

from helpers import judge_cli

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

# Two written-score judges: the first puts A a point ahead (9 vs 8), the second calls them equal (8 vs 8), so the
# panel's mean totals are 8.5 and 8: half a point, less than one step of the 1-4 scale.
LEANS_A = "scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 3\\nReasons: fine||" \
          "Relevance: 3\\nCoherence: 3\\nCompleteness: 2\\nReasons: fine"
EVEN = "scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 2\\nReasons: fine"
LONG_A = "scripted:one two three four five six seven eight"
SHORT_B = "scripted:a short answer"


def run(tmp_path, items, **changes) -> Path:
    config = CompareConfig(model_a=LONG_A, model_b=SHORT_B, judge=LEANS_A, more_judges=[EVEN],
                           out_dir=str(tmp_path), **changes)
    config.sampling = config.sampling.with_(max_new_tokens=4)
    updates = list(run_compare(config, items))
    assert updates[-1].stage == "done"
    return updates[-1].run_dir


def test_a_panel_lead_under_one_step_is_a_tie_too_close_to_call_and_the_band_is_in_run_json(tmp_path):
    folder = run(tmp_path, [PromptItem(id="q1", prompt="Say something.")], tie_band=0.1)
    (record,) = read_records(folder)
    assert record["totals"] == {"A": 8.5, "B": 8.0}
    assert record["winner"] == "tie"
    assert record["margin"] == {"basis": "gap", "p_a_better": None, "gap": 0.5, "band": 1.0, "ahead": "A",
                                "too_close": True}
    assert json.loads((folder / "run.json").read_text())["config"]["tie_band"] == 0.1
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["wins"]["tie"] == 1 and summary["too_close"] == 1


def test_the_band_at_zero_lets_any_lead_win(tmp_path):
    folder = run(tmp_path, [PromptItem(id="q1", prompt="Say something.")], tie_band=0.0)
    (record,) = read_records(folder)
    assert record["winner"] == "A" and record["margin"]["too_close"] is False


def test_an_answer_stopped_at_the_limit_is_recorded_cut_off_and_flagged(tmp_path):
    folder = run(tmp_path, [PromptItem(id="q1", prompt="Say something.")])
    (record,) = read_records(folder)
    assert record["answers"]["A"]["text"] == "one two three four" and record["answers"]["A"]["finish_reason"] == \
        "length"
    assert record["answers"]["B"]["finish_reason"] == "stop"
    assert "cut off at 4 tokens" in timings_line(record)
    assert "**answer A was cut off at 4 tokens** (max new tokens): its completeness was graded on unfinished text" \
        in trust_line(record)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["cut_off"] == {"A": 1, "B": 0} and summary["max_new_tokens"] == [4]


def test_the_cli_ends_with_the_closing_summary_after_the_last_prompt(tmp_path):
    prompts = tmp_path / "five.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(5)),
                       encoding="utf-8")
    out = tmp_path / "runs"
    result = judge_cli("--prompts", str(prompts), "--model-a", LONG_A, "--model-b", SHORT_B, "--judge", LEANS_A,
                       "--judge", EVEN, "--max-new-tokens", "4", "--tie-band", "0.1", out=out, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    last_prompt = max(i for i, line in enumerate(lines) if line.startswith("[5/5] q4:"))
    closing = lines[last_prompt + 1:]
    assert "too close to call" in lines[last_prompt] and "A cut off at 4 tokens" in lines[last_prompt]
    assert any(line.startswith("summary: 5 records: A won 0, B won 0, 5 ties") for line in closing), closing
    assert any(line.startswith("note: 5 of the 5 ties were too close to call (tie band 0.1") for line in closing)
    assert any(line.startswith("note: 5 of A's and 0 of B's 5 answers were cut off at 4 tokens") for line in closing)
    assert "length-controlled win rate of A: not enough data: 5 decided records with answer lengths, at least 8 " \
           "needed" in closing  # five ties are decided records, too few for the length model
    conclusion = next(line for line in closing if line.startswith("conclusion: "))
    # Every prompt: A 8.5, B 8, so the paired difference is +0.5 with no spread: its interval excludes no change.
    assert "A's total was 0.50 points higher than B's on average (95% interval +0.50 to +0.50 of 12" in conclusion
    assert result.stdout.strip() == str(next(out.iterdir()))  # stdout is still the run folder alone


def test_a_bad_tie_band_exits_2_naming_the_range(tmp_path):
    result = judge_cli("--prompt", "hi", "--model-a", SHORT_B, "--model-b", SHORT_B, "--judge", EVEN,
                       "--tie-band", "0.7", out=tmp_path)
    assert result.returncode == 2 and "tie band must be a number from 0 (off) to below 0.5" in result.stderr
    assert "Traceback" not in result.stderr and not any(tmp_path.iterdir())


@pytest.mark.parametrize("answer, sampling, expected", [
    ({"n_tokens": 4, "finish_reason": "length"}, {"max_new_tokens": 4}, 4),
    ({"n_tokens": 4, "finish_reason": "stop"}, {"max_new_tokens": 4}, None),  # ended exactly at the limit
    ({"n_tokens": 4}, {"max_new_tokens": 4}, 4),  # recorded before finish reasons: as long as the limit
    ({"n_tokens": 3}, {"max_new_tokens": 4}, None),
    ({"n_tokens": 9}, {"temperature": 0.5}, None),  # no limit recorded: nothing to say
    ({"text": "", "n_tokens": None}, {}, None),  # a failed record's missing answer
])
def test_cut_off_reads_the_finish_reason_and_old_records_by_their_length(answer, sampling, expected):
    from runs.records import cut_off_at

    record = {"answers": {"A": answer, "B": {}}, "sampling": sampling}
    assert cut_off_at(record, "A") == expected
    assert cut_off_at(record, "B") is None


def test_the_batch_tabs_finished_status_ends_with_the_notes_and_the_closing_sentence(tmp_path):
    from runs.progress import RunProgress

    config = CompareConfig(model_a=LONG_A, model_b=SHORT_B, judge=LEANS_A, more_judges=[EVEN], out_dir=str(tmp_path))
    config.sampling = config.sampling.with_(max_new_tokens=4)
    watch = RunProgress()
    shown = [watch.status(u) for u in run_compare(config, [PromptItem(id=f"q{i}", prompt="Hi?") for i in range(5)])
             if watch.follow(u)]
    assert shown[-1].startswith("**Finished:** 5 record(s)")
    closing = shown[-1]
    assert "**Too close to call:** 5 of the 5 ties were too close to call (tie band 0.05" in closing
    assert "**Cut off:** 5 of A's and 0 of B's 5 answers were cut off at 4 tokens" in closing
    assert "**Length-controlled win rate of A:** not enough data: 5 decided records with answer lengths" in closing
    assert closing.rstrip().endswith("so it is not better on a typical prompt yet.")
    assert "**Conclusion:** A scored higher on average, but not on most prompts" in closing
