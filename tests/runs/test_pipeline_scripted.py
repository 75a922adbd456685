"""The comparison pipeline's logic on scripted models (given replies, no weights): records, verdicts, unparsed replies,
presets, resume. Each path here also runs on the real embedded model in test_compare_e2e.py and test_batch_runs.py."""
import json

import pytest

from models import PRESETS
from models.registry import load_model
from runs.config import CompareConfig
from runs.pipeline import resume_compare, run_compare
from runs.prompt_sets import PromptItem
from runs.records import SCHEMA_VERSION
from runs.store import read_records

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

JUDGE_OK = "scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: clear||" \
           "Relevance: 2\\nCoherence: 2\\nCompleteness: 1\\nReasons: vague"
PAIR_ALWAYS_A = ("scripted:Relevance: A=4 B=2\\nCoherence: A=3 B=3\\nCompleteness: A=4 B=1\\n"
                 "Verdict: [[A]]\\nReasons: first is better")
ITEMS = [PromptItem(id=f"q{i}", prompt=f"Question {i}?") for i in range(1, 4)]


def config(tmp_path, **changes) -> CompareConfig:
    values = dict(model_a="scripted:Answer from A", model_b="scripted:Answer from B", judge=JUDGE_OK,
                  out_dir=str(tmp_path))
    return CompareConfig(**{**values, **changes})


def finish(updates) -> list:
    return list(updates)


def test_single_mode_record_has_every_field_and_the_run_finishes(tmp_path):
    updates = finish(run_compare(config(tmp_path), ITEMS[:1]))
    assert [u.stage for u in updates][0] == "loading" and updates[-1].stage == "done"
    folder = updates[-1].run_dir
    (record,) = read_records(folder)
    assert record["schema_version"] == SCHEMA_VERSION
    assert record["rubric"] == {"criteria": ["relevance", "coherence", "completeness"], "scale": [1, 4]}
    assert record["answers"]["A"]["text"] == "Answer from A" and record["answers"]["B"]["text"] == "Answer from B"
    assert record["scores"] == {"A": {"relevance": 4, "coherence": 3, "completeness": 4},
                                "B": {"relevance": 2, "coherence": 2, "completeness": 1}}
    assert record["totals"] == {"A": 11, "B": 5} and record["winner"] == "A" and record["status"] == "ok"
    assert record["reasons"] == {"A": "clear", "B": "vague"}
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["wins"] == {"A": 1, "B": 0, "tie": 0, "unknown": 0} and summary["mean_total"] == {"A": 11, "B": 5}
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["models"]["judge"]["backend"] == "scripted"
    assert manifest["models"]["judge"]["capabilities"]["grammar"] is False


def test_an_unreadable_judge_reply_is_retried_once_then_unparsed_never_scored(tmp_path):
    updates = finish(run_compare(config(tmp_path, judge="scripted:I like both answers."), ITEMS[:1]))
    (record,) = read_records(updates[-1].run_dir)
    assert record["status"] == "unparsed" and record["winner"] is None
    assert record["totals"] == {"A": None, "B": None} and record["scores"] == {"A": None, "B": None}
    call = record["judgement"]["A"]["call"]
    assert call["raw_replies"] == ["I like both answers."] * 2 and "no 'Relevance: <1-4>' line" in call["error"]
    judge = load_model("scripted:I like both answers.")
    retry = judge.calls[1]
    assert retry[-1]["content"].startswith("Your reply could not be read") and retry[-2]["role"] == "assistant"


def test_pairwise_verdicts_are_mapped_back_and_a_flip_is_an_inconsistent_tie(tmp_path):
    """The judge always says [[A]]: first A in the AB order, then B (shown first) in the BA order."""
    updates = finish(run_compare(config(tmp_path, mode="pairwise", judge=PAIR_ALWAYS_A), ITEMS[:1]))
    (record,) = read_records(updates[-1].run_dir)
    orders = record["judgement"]["orders"]
    assert [(o["order"], o["verdict"]) for o in orders] == [("AB", "A"), ("BA", "B")]
    assert record["winner"] == "tie" and record["consistent"] is False
    # Scores follow the answers, not the slots: A got 4/3/4 in the AB order and 2/3/1 when shown second.
    assert record["scores"]["A"] == {"relevance": 3.0, "coherence": 3.0, "completeness": 2.5}
    judge = load_model(PAIR_ALWAYS_A)
    assert "Answer from A" in judge.calls[0][-1]["content"].split("Answer from B")[0]
    assert "Answer from B" in judge.calls[1][-1]["content"].split("Answer from A")[0]


def test_a_prompt_set_at_two_presets_gives_one_record_per_prompt_and_preset(tmp_path):
    updates = finish(run_compare(config(tmp_path, more_presets=["p2"]), ITEMS))
    records = read_records(updates[-1].run_dir)
    assert [(r["id"], r["preset"]) for r in records] == [(i.id, p) for p in ("p1", "p2") for i in ITEMS]
    assert {r["preset"]: r["sampling"]["temperature"] for r in records} == {
        "p1": PRESETS["p1"].temperature, "p2": PRESETS["p2"].temperature}
    summary = json.loads((updates[-1].run_dir / "summary.json").read_text())
    assert set(summary["by_preset"]) == {"p1", "p2"} and summary["by_preset"]["p2"]["n"] == 3


def test_an_interrupted_run_resumes_without_redoing_or_losing_records(tmp_path):
    updates = run_compare(config(tmp_path), ITEMS)
    for update in updates:
        if update.stage == "record":
            break  # the app closed or the process died after the first record
    updates.close()
    folder = update.run_dir
    assert not (folder / "summary.json").exists() and len(read_records(folder)) == 1
    resumed = finish(resume_compare(folder))
    assert resumed[0].stage == "loading" and resumed[0].index == 1
    records = read_records(folder)
    assert [r["id"] for r in records] == ["q1", "q2", "q3"]
    assert json.loads((folder / "summary.json").read_text())["n"] == 3


def test_judge_free_measures_are_saved_with_the_record(tmp_path):
    item = PromptItem(id="c1", prompt="Say something from A.", reference="Answer from A",
                      checks=({"type": "contains", "value": "from A"},))
    updates = finish(run_compare(config(tmp_path), [item]))
    (record,) = read_records(updates[-1].run_dir)
    assert record["checks_summary"]["A"]["passed"] == 1 and record["checks_summary"]["B"]["passed"] == 0
    assert record["reference_metrics"]["A"]["rouge_l"] == 1.0 and record["reference_metrics"]["B"]["rouge_l"] < 1
    assert record["reference_metrics"]["A"]["perplexity"] is None  # the scripted backend cannot score tokens


@pytest.mark.parametrize("overlap", [True, False], ids=["answered ahead", "answered in turn"])
def test_the_next_chunk_is_answered_while_this_one_is_judged_only_where_that_pays(tmp_path, monkeypatch, overlap):
    """Two chunks and a part (BATCH_SIZE each, then 4). The first judge call waits for the second chunk's answers to
    start: they do only if the pipeline answers ahead, which it does where the stages do not share this machine's
    CPU (scripted models compute nothing) and not where they all do (here: told so). Either way every record holds
    its own prompt, once, in order. In turn, every chunk is answered in the thread the run is stepped in, the one the
    judge reads in (torch and llama.cpp computing in two threads slow each other: runs/one_thread.py)."""
    import threading

    import runs.pipeline
    from runs.config import BATCH_SIZE

    if not overlap:
        monkeypatch.setattr(runs.pipeline, "answers_overlap_judging", lambda backends: False)
    items = [PromptItem(id=f"p{i:02d}", prompt=f"Question {i}?") for i in range(2 * BATCH_SIZE + 4)]
    run = config(tmp_path)
    model_b, judge = load_model(run.model_b), load_model(run.judge)
    batches, second_chunk_started, seen_while_judging, answered_in = [], threading.Event(), [], set()
    answer_batch, judge_score = model_b.generate_batch, judge.score

    def counted_batch(conversations, *args, **kwargs):
        batches.append(len(conversations))
        answered_in.add(threading.get_ident())
        if len(batches) == 2:
            second_chunk_started.set()
        return answer_batch(conversations, *args, **kwargs)

    def waiting_score(*args, **kwargs):
        if not seen_while_judging:
            seen_while_judging.append(second_chunk_started.wait(timeout=10 if overlap else 0.5))
        return judge_score(*args, **kwargs)

    model_b.generate_batch, judge.score = counted_batch, waiting_score
    records = [u.record for u in run_compare(run, items) if u.stage == "record"]
    assert [r["id"] for r in records] == [i.id for i in items]
    assert [r["prompt"] for r in records] == [i.prompt for i in items]
    assert batches == [BATCH_SIZE, BATCH_SIZE, 4]
    assert seen_while_judging == [overlap]
    assert (answered_in == {threading.get_ident()}) is not overlap


def test_answers_overlap_judging_only_where_a_stage_computes_elsewhere():
    from types import SimpleNamespace

    from models.backends.openai_compat import OpenAIBackend
    from runs.pipeline import answers_overlap_judging

    here, elsewhere = SimpleNamespace(computes_on_this_cpu=True), SimpleNamespace(computes_on_this_cpu=False)
    assert not answers_overlap_judging({"model_a": here, "model_b": here, "judges": [here, here]})
    assert answers_overlap_judging({"model_a": here, "model_b": here, "judges": [here, elsewhere]})
    assert answers_overlap_judging({"model_a": elsewhere, "model_b": here, "judges": [here]})
    assert OpenAIBackend.computes_on_this_cpu is False and load_model("scripted:x").computes_on_this_cpu is False


def test_two_folders_of_one_name_in_one_second_get_their_own(tmp_path):
    from basics import make_unique_folder

    made = [make_unique_folder(tmp_path / "out", "20260101-000000-run") for _ in range(3)]
    assert [f.name for f in made] == ["20260101-000000-run", "20260101-000000-run-2", "20260101-000000-run-3"]
    assert all(f.is_dir() for f in made)
