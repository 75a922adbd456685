"""The app launched for real and driven through gradio_client, as a script or another service would."""
import json
from pathlib import Path

import pytest
from gradio_client import Client

pytestmark = pytest.mark.model

PROMPT = "Provide instructions for administering first aid to someone with a sprained ankle."


def compare_args(**overrides):
    args = dict(model_a="smollm2-135m", model_b="smollm2-135m-gguf", judge="smollm2-135m-gguf", prompt=PROMPT,
                preset="p1", temperature=0.5, min_p=0.05, top_p=1.0, max_new_tokens=16, seed=0, mode="single",
                template_text="", swap=True, judge_temperature=0.0)
    args.update(overrides)
    return args


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_compare_returns_answers_scores_and_a_saved_run(client):
    answer_a, answer_b, verdict, scores, reasons, status = client.predict(**compare_args(), api_name="/compare")
    assert answer_a.strip() and answer_b.strip()
    rows = {row[0]: row[1:] for row in scores["data"]}
    assert set(rows) == {"Relevance", "Coherence", "Completeness", "Total (of 12)"}
    for criterion in ("Relevance", "Coherence", "Completeness"):  # expected values of the judge's probabilities
        assert all(1 <= float(value) <= 4 for value in rows[criterion]), rows
    assert "Winner" in verdict or "Tie" in verdict or "Too close to call" in verdict
    folder = Path(status.split("Saved to `")[1].split("`")[0])
    record = json.loads((folder / "records.jsonl").read_text())
    assert record["answers"]["A"]["text"] == answer_a
    assert record["prompt"] == PROMPT
    assert record["method"] == "probabilities"
    assert [round(record["scores"]["A"][c.lower()], 2) for c in ("Relevance", "Coherence", "Completeness")] == \
        [float(rows[c][0]) for c in ("Relevance", "Coherence", "Completeness")]


def test_same_seed_gives_the_same_answers_and_models_are_not_reloaded(client):
    from models import loaded_models

    # The answers and the models are this test's: no reasons asked of the judge (the test above asks them)
    first = client.predict(**compare_args(seed=7, judge_reasons=False), api_name="/compare")
    loaded_before = list(loaded_models())
    second = client.predict(**compare_args(seed=7, judge_reasons=False), api_name="/compare")
    assert first[:2] == second[:2]
    assert list(loaded_models()) == loaded_before, "a click must reuse the cached models"


@pytest.mark.parametrize("overrides, expected", [
    (dict(prompt="   "), "the prompt is empty"),
    (dict(model_a="no-such-model"), "unknown model 'no-such-model'"),
    (dict(model_b="smollm2-135m+/nonexistent/adapter"), "adapter '/nonexistent/adapter' not found"),
    (dict(template_text="name: x\nmode: single\ntemplate: '{prompt}'\noutput_format: 'Relevance: <1-4>'"),
     "must contain {answer}"),
])
def test_bad_input_is_a_clear_error_not_a_traceback(client, overrides, expected):
    with pytest.raises(Exception) as caught:
        client.predict(**compare_args(**overrides), api_name="/compare")
    assert expected in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_an_edited_template_s_criteria_and_scale_are_the_compare_table(client):
    """Two criteria on 1-10 (scripted models and judge: the scores are known); see tests/dashboard for every view."""
    template = ('name: ten\nmode: single\ncriteria: [accuracy, style]\nscale: [1, 10]\n'
                'template: "Q: {prompt}\\nA: {answer}\\n{output_format}"\n'
                'output_format: "Accuracy: <1-10>\\nStyle: <1-10>\\nReasons: <one sentence>"\n')
    judge = "scripted:Accuracy: 9\\nStyle: 7\\nReasons: precise||Accuracy: 3\\nStyle: 10\\nReasons: pretty"
    result = client.predict(**compare_args(model_a="scripted:four", model_b="scripted:five", judge=judge,
                                           template_text=template), api_name="/compare")
    assert result[3]["data"] == [["Accuracy", "9", "3"], ["Style", "7", "10"], ["Total (of 20)", "16", "13"]]
    assert "Winner: A" in result[2]


def test_a_run_interrupted_after_the_app_started_can_be_resumed_through_the_api(client, tmp_path):
    """The resume list is read when asked, so a run that did not exist when the page was built can be named."""
    from runs.config import CompareConfig
    from runs.pipeline import run_compare
    from runs.prompt_sets import PromptItem

    judge = "scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 3\\nReasons: ok"
    config = CompareConfig(model_a="scripted:alpha", model_b="scripted:beta", judge=judge)
    updates = run_compare(config, [PromptItem("one", "first"), PromptItem("two", "second")], label="interrupted")
    folder = next(u.run_dir for u in updates if u.stage == "record")
    updates.close()  # stopped after the first record, as a closed laptop would
    assert not (folder / "summary.json").exists()
    _progress, status, table, _runs = client.predict(str(folder), api_name="/resume_batch")
    assert "Finished" in status and len(table["data"]) == 2
    assert (folder / "summary.json").is_file()


@pytest.mark.parametrize("choice", ["refuse", "truncate"])
def test_a_prompt_longer_than_the_context_is_refused_or_cut_with_a_notice_by_choice(client, tmp_path, choice):
    """Scripted models with a 40-token context (the real models' windows are checked in tests/hostile)."""
    script = tmp_path / "short_context.json"
    script.write_text(json.dumps({"replies": ["an answer"], "context": 40}), encoding="utf-8")
    judge = "scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 3\\nReasons: ok"
    args = compare_args(model_a=f"scripted:@{script}", model_b="scripted:other", judge=judge, max_new_tokens=16,
                        prompt="word " * 200, long_prompts=choice)
    if choice == "refuse":
        with pytest.raises(Exception, match="too long for model A") as caught:
            client.predict(**args, api_name="/compare")
        assert "--long-prompts truncate" in str(caught.value) or "truncate" in str(caught.value)
        return
    status = client.predict(**args, api_name="/compare")[5]
    assert "**Notice:**" in status and "cut to fit the context window of model A" in status


def test_the_system_prompt_boxes_reach_each_model_and_are_recorded(client):
    judge = "scripted:Relevance: 3\\nCoherence: 3\\nCompleteness: 3\\nReasons: ok"
    args = compare_args(model_a="scripted:system a", model_b="scripted:system b", judge=judge,
                        system_a="Answer only in French.", system_b="")
    status = client.predict(**args, api_name="/compare")[5]
    folder = Path(status.split("Saved to `")[1].split("`")[0])
    record = json.loads((folder / "records.jsonl").read_text())
    assert (record["system_a"], record["system_b"]) == ("Answer only in French.", None)
    config = json.loads((folder / "run.json").read_text())["config"]
    assert (config["system_a"], config["system_b"]) == ("Answer only in French.", None)


def test_a_run_saved_after_the_app_started_can_be_exported_through_the_api(client, results_dir):
    """The Results tab's actions are its exports: named by a run folder that did not exist when the page was built."""
    from run_builders import RUN1, write_run

    folder = write_run(results_dir, "export-after-start", "2026-05-01T00:00:00+00:00", RUN1)
    report = Path(client.predict(folder.name, api_name="/export_report"))
    html = report.read_text(encoding="utf-8")
    assert report.suffix == ".html" and "Win rate of A" in html
    assert "How far to trust this verdict" in html and "not validated" in html  # the report carries the trust line
    rows = Path(client.predict(folder.name, api_name="/export_csv")).read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(RUN1)
    with pytest.raises(Exception, match="not a run folder|no run|not found"):
        client.predict("no-such-run", api_name="/export_csv")
