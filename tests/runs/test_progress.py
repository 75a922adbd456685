"""The Batch tab's progress words (runs/progress.py): a chunk of prompts is named as answered together, and the time
left is said only once answering and judging have both been timed. A clock the test moves stands in for time; the
last test drives the real pipeline on scripted models."""
from pathlib import Path

from runs.config import CompareConfig
from runs.pipeline import CompareUpdate, run_compare
from runs.progress import RunProgress
from runs.prompt_sets import PromptItem

from run_builders import CRITERIA, make_record

ITEMS = [PromptItem(id=f"study-0{i}", prompt=f"Question {i}?") for i in range(1, 4)]


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def record(item: PromptItem) -> dict:
    return {**make_record(item.id, "p1", (4, 4, 4), (3, 3, 3), "A"), "rubric": {"criteria": list(CRITERIA),
                                                                             "scale": [1, 4]}}


def shown(watch: RunProgress, update: CompareUpdate) -> str | None:
    return watch.status(update) if watch.follow(update) else None


def test_a_chunk_is_named_as_answered_together_and_no_estimate_comes_before_a_timing():
    clock = Clock()
    watch = RunProgress(now=clock)
    total = len(ITEMS)
    assert "Loading" in shown(watch, CompareUpdate("loading", 0, total, message="Loading the models…"))
    clock.t = 20.0  # loading took 20 s: it is no part of a prompt's time
    chunk = shown(watch, CompareUpdate("answer_a", 0, total, ITEMS[0], run_dir=Path("/r"), chunk=3))
    assert "answering prompts 1-3 together" in chunk and "study-01" not in chunk
    assert "left" not in chunk and "per prompt" not in chunk
    assert watch.bar_text(CompareUpdate("answer_a", 0, total, chunk=3)) == "0/3 prompts"
    clock.t = 80.0  # the three prompts were answered in 60 s
    judging = shown(watch, CompareUpdate("judging", 0, total, ITEMS[0], run_dir=Path("/r")))
    assert "prompt 1 (study-01): The judge is grading" in judging
    assert "left" not in judging  # answering is timed, judging not yet: no guess
    clock.t = 82.0
    first = shown(watch, CompareUpdate("record", 0, total, ITEMS[0], record=record(ITEMS[0]), run_dir=Path("/r")))
    # Two prompts are left, both answered already: two verdicts of 2 s each. The old estimate (time so far per
    # record) said 2 min 44 s here.
    assert "1/3 done" in first and "about 4 s left" in first, first
    assert "22.0 s per prompt" in first  # 60 s / 3 answering + 2 s judging
    watch.follow(CompareUpdate("judging", 1, total, ITEMS[1]))
    clock.t = 86.0
    second = shown(watch, CompareUpdate("record", 1, total, ITEMS[1], record=record(ITEMS[1])))
    assert "about 3 s left" in second, second  # judging now averages (2 + 4) / 2 s: one left


def test_prompts_still_to_answer_count_in_the_estimate():
    clock = Clock()
    watch = RunProgress(now=clock)
    items = [PromptItem(id=f"q{i}", prompt="?") for i in range(4)]
    watch.follow(CompareUpdate("answer_a", 0, 4, items[0], chunk=2))
    clock.t = 10.0
    watch.follow(CompareUpdate("judging", 0, 4, items[0]))
    clock.t = 11.0
    status = shown(watch, CompareUpdate("record", 0, 4, items[0], record=record(items[0])))
    # 1 answered prompt still to judge (1 s) and 2 prompts to answer (5 s each) and judge (1 s each)
    assert "about 13 s left" in status, status


def test_one_prompt_streams_its_answers_model_by_model():
    clock = Clock()
    watch = RunProgress(now=clock)
    item = ITEMS[0]
    assert "prompt 1 (study-01): Model A is answering" in shown(watch, CompareUpdate("answer_a", 0, 1, item))
    assert not watch.follow(CompareUpdate("answer_a", 0, 1, item, answer_a="Some"))  # a token: no new status
    assert "Model B is answering" in shown(watch, CompareUpdate("answer_b", 0, 1, item))


def test_concurrent_records_estimate_from_the_time_between_records():
    clock = Clock()
    watch = RunProgress(now=clock)
    items = [PromptItem(id=f"q{i}", prompt="?") for i in range(5)]
    clock.t = 30.0
    first = shown(watch, CompareUpdate("record", 0, 5, items[0], record=record(items[0])))
    assert "left" not in first  # one finished record times nothing: prompts were in flight together
    clock.t = 33.0
    second = shown(watch, CompareUpdate("record", 1, 5, items[1], record=record(items[1])))
    assert "about 9 s left" in second, second


def test_the_pipeline_reports_its_chunk_and_the_progress_names_it(tmp_path, fresh_models):
    config = CompareConfig(model_a="scripted:Answer from A", model_b="scripted:Answer from B",
                           judge="scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: ok",
                           out_dir=str(tmp_path))
    watch = RunProgress()
    statuses = [watch.status(u) for u in run_compare(config, ITEMS) if watch.follow(u)]
    first_record = next(i for i, s in enumerate(statuses) if "1/3 done" in s)
    before = statuses[:first_record]
    assert any("answering prompts 1-3 together" in s for s in before), before
    assert not any("left" in s for s in before), before
    assert "Finished" in statuses[-1]
