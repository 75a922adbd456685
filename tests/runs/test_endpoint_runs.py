"""Runs through real served models (tests/servers.py): a compare mixing two servers, a concurrent prompt-set run, a
judge panel, and a server stopped mid-run whose failed records a resume completes."""
import json

import pytest
from servers import LLAMA_ALIAS, free_port, llama_cpp_server

from lab.validation import ValidationConfig, load_validation, run_validation
from models.endpoints import EndpointLimits
from runs.config import CompareConfig
from runs.pipeline import resume_compare, run_compare
from runs.prompt_sets import load_prompt_set, single_prompt
from runs.store import load_run, unfinished_runs

pytestmark = pytest.mark.model
SHORT = dict(max_new_tokens=24, seed=3)


def config_for(a: str, b: str, judges: list[str], out, **changes) -> CompareConfig:
    config = CompareConfig(model_a=a, model_b=b, judge=judges[0], more_judges=judges[1:], out_dir=str(out),
                           judge_cache=False, **changes)
    config.sampling = config.sampling.with_(**SHORT)
    return config


def finish(updates) -> tuple[list[dict], object]:
    records, folder = [], None
    for update in updates:
        folder = update.run_dir
        if update.stage == "record":
            records.append(update.record)
    return records, folder


def test_a_compare_across_two_servers_records_who_served_what(llama_server, transformers_server, tmp_path):
    url, model = transformers_server
    served_a, served_b = f"openai:{LLAMA_ALIAS}@{llama_server}", f"openai:{model}@{url}"
    streamed = []
    config = config_for(served_a, served_b, [served_a], tmp_path)
    updates = run_compare(config, [single_prompt("Give one tip for sleeping well.")])
    for update in updates:
        if update.stage == "answer_b":
            streamed.append(update.answer_b)
        if update.stage == "done":
            folder = update.run_dir
    run = load_run(folder)
    (record,) = run.records
    assert len(streamed) > 2  # B streamed through the page's update stream
    assert record["status"] == "ok" and record["method"] == "probabilities"
    assert any("min_p" in w for w in record["answers"]["B"]["warnings"])  # transformers serve refused it
    assert "warnings" not in record["answers"]["A"]
    assert record["usage"]["B"]["input"] > 0 and record["usage"]["judge"]["input"] > 0
    models = run.manifest["models"]
    assert models["model_a"]["base_url"] == llama_server and models["model_b"]["base_url"] == url
    assert models["model_b"]["accepts"]["min_p"] is False


def test_a_prompt_set_runs_concurrently_and_keeps_every_record(llama_server, tmp_path):
    served = f"openai:{LLAMA_ALIAS}@{llama_server}"
    items = load_prompt_set("study")[:2]  # one per worker of concurrency 2 (the server answers one at a time)
    config = config_for(served, served, [served], tmp_path, concurrency=2)
    records, folder = finish(run_compare(config, items))
    assert sorted(r["id"] for r in records) == sorted(i.id for i in items)
    assert all(r["status"] == "ok" and r["winner"] in ("A", "B", "tie") for r in records)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["n"] == 2 and summary["failed"] == 0


def test_a_panel_keeps_each_judge_and_reports_agreement(llama_server, tmp_path):
    served = f"openai:{LLAMA_ALIAS}@{llama_server}"
    items = load_prompt_set("study")[:2]  # each judge reads ~400-token prompts at 1 thread: one order (the panel is
    # the subject here; both orders are the compare tests')
    config = config_for(served, "smollm2-135m-gguf", [served, "smollm2-135m-gguf"], tmp_path, mode="pairwise",
                        swap=False)
    records, folder = finish(run_compare(config, items))
    for record in records:
        panel = record["panel"]
        assert panel["size"] == 2 and [m["judge"] for m in panel["members"]] == config.judges
        winners = [m["winner"] for m in panel["members"]]
        expected = winners[0] if winners[0] == winners[1] else "tie"  # an even split is a tie
        assert record["winner"] == expected and sum(panel["votes"].values()) == panel["used"] == 2
    agreement = json.loads((folder / "summary.json").read_text())["panel_agreement"]
    assert agreement["level"] == "nominal" and agreement["items"] == 2 and agreement["judges"] == config.judges


def test_a_server_stopped_mid_run_fails_records_visibly_and_resume_completes_them(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_RETRIES", "0")
    assert EndpointLimits.from_environment().retries == 0
    port = free_port()
    items = load_prompt_set("study")[:2]
    with llama_cpp_server(port=port, log_dir=tmp_path) as url:
        served = f"openai:{LLAMA_ALIAS}@{url}"
        config = config_for(served, served, [served], tmp_path / "runs", concurrency=1)
        updates = run_compare(config, items)
        for update in updates:
            if update.stage == "record":
                break  # the first record is saved: stop the server under the run
    records, folder = finish(updates)  # the rest of the run, with the server gone
    assert [r["status"] for r in records] == ["failed"]
    assert all("cannot reach" in r["error"] for r in records)
    assert (folder.name, str(folder)) in unfinished_runs(tmp_path / "runs")  # failed records make it resumable
    with llama_cpp_server(port=port, log_dir=tmp_path):
        retried, _ = finish(resume_compare(folder))
    assert len(retried) == 1 and all(r["status"] == "ok" for r in retried)
    run = load_run(folder)
    assert [r["status"] for r in run.records] == ["ok"] * 2 and run.summary["failed"] == 0


def test_a_panel_is_validated_against_gold_labels_beside_its_members(llama_server, tmp_path):
    served = f"openai:{LLAMA_ALIAS}@{llama_server}"
    config = ValidationConfig(data="prompts/validation/good_vs_broken_pairs.jsonl", judges=["smollm2-135m-gguf", served],
                              panel=True, limit=2, out_dir=str(tmp_path), judge_cache=False, swap=False)
    *_, done = run_validation(config)
    run = load_validation(done.folder)
    panel = next(m for name, m in run.metrics.items() if name.startswith("panel__"))
    assert panel["judge"] == f"smollm2-135m-gguf | {served}" and panel["n"] == 2
    assert panel["panel_alpha_level"] == "nominal" and panel["mean_panel_used"] == 2
    rows = run.verdicts[next(name for name in run.verdicts if name.startswith("panel__"))]
    members = [rows_of for name, rows_of in run.verdicts.items() if not name.startswith("panel__")]
    for position, row in enumerate(rows):
        assert sorted(row["members"].values()) == sorted(m[position]["predicted"] for m in members)
