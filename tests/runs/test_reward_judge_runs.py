"""A reward model as a judge end to end, offline, on a real model: the reward model tests/reward_models.py makes from
the embedded model (its base weights under a fresh seeded score head), by folder and by hub id from a local hub cache.
A compare from the CLI, a panel beside a writing judge, a Judge Lab validation, the trust line and the app's typed
judge spec. The expected rewards are read here straight from transformers (the chat template, one answer a pass),
not through the project's backend, and every verdict, margin and score is checked against them."""
import json
import math
from pathlib import Path

import pytest
from reward_models import REWARD_REPO, add_reward_repo, build_reward_model

from basics import PROMPTS_DIR
from models.settings import PRESETS

from helpers import judge_cli

pytestmark = pytest.mark.model
WRITER = ("scripted:Relevance: 4\\nCoherence: 3\\nCompleteness: 4\\nReasons: on topic.||"
          "Relevance: 1\\nCoherence: 2\\nCompleteness: 1\\nReasons: off topic.")  # A's reply, then B's


@pytest.fixture(scope="module")
def reward_folder(tmp_path_factory, one_thread_models):
    return build_reward_model(tmp_path_factory.mktemp("reward") / "smollm2-135m-reward")


@pytest.fixture(scope="module")
def direct_reward(reward_folder):
    """reward(prompt, answer) read with transformers alone, as a reward model card says to."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(reward_folder)
    model = AutoModelForSequenceClassification.from_pretrained(reward_folder, dtype=torch.float32).eval()

    def reward(prompt: str, answer: str) -> float:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt},
                                              {"role": "assistant", "content": answer}], tokenize=False)
        ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            return float(model(input_ids=ids).logits[0, 0])
    return reward


def check_reward_scores(record: dict, rewards: dict, rubric_low: int = 1, rubric_high: int = 4) -> None:
    """A record's `preference` scores are the rewards mapped as low + (high - low) * sigmoid(r)."""
    member = record["scores"]
    for side in ("A", "B"):
        mapped = rubric_low + (rubric_high - rubric_low) / (1 + math.exp(-rewards[side]))
        assert member[side]["preference"] == pytest.approx(mapped, abs=1e-3)


def test_a_cli_compare_judged_by_a_reward_model_follows_its_rewards(reward_folder, direct_reward, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps(p) for p in (
        {"id": "fruit", "prompt": "Name three fruits."}, {"id": "egg", "prompt": "Explain how to boil an egg."})),
        encoding="utf-8")
    done = judge_cli("--model-a", "scripted:Apples, pears and plums.||Boil it for nine minutes, then cool it.",
                     "--model-b", "scripted:The weather is nice today.", "--judge", f"reward:{reward_folder}",
                     "--prompts", str(prompts), "--mode", "pairwise", "--tie-band", "0", out=tmp_path / "runs")
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert len(records) == 2
    for record in records:
        rewards = {side: direct_reward(record["prompt"], record["answers"][side]["text"]) for side in ("A", "B")}
        assert record["rubric"]["criteria"] == ["preference"] and "sigmoid(r)" in record["rubric"]["mapping"]
        assert record["method"] == "head" and record["status"] == "ok" and record["consistent"] is True
        assert [o["order"] for o in record["judgement"]["orders"]] == ["AB", "BA"]
        kept = record["judgement"]["rewards"]
        assert kept["A"] == pytest.approx(rewards["A"], abs=1e-4) and kept["B"] == pytest.approx(rewards["B"], abs=1e-4)
        p = 1 / (1 + math.exp(rewards["B"] - rewards["A"]))
        assert record["margin"]["basis"] == "probability" and record["margin"]["p_a_better"] == pytest.approx(p, abs=1e-3)
        assert record["winner"] == ("A" if rewards["A"] > rewards["B"] else "B")  # no band: the higher reward wins
        check_reward_scores(record, rewards)
    assert summary["stats"]["position"]["consistency_rate"] == 1.0
    assert summary["rubric"]["criteria"] == ["preference"]
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    fingerprinted = {Path(f["path"]).name for f in manifest["models"]["judge"]["files"]}
    assert {"config.json", "model.safetensors"} <= fingerprinted  # a resume notices retrained weights
    shown = done.stderr.lower()
    assert "unparsed" not in shown and "relevance" not in shown and "(r " in shown

    from dashboard.report import html_report
    from dashboard.summary_text import summary_markdown
    from runs.store import load_run

    run = load_run(run_dir)
    words = summary_markdown(run)
    assert "rubric: preference (1-4; preference = 1 + 3·sigmoid(r)" in words and "Relevance" not in words
    assert "a reward model: one scalar reward per answer" in words  # the trust line
    report = html_report(run, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "preference = 1 + 3·sigmoid(r)" in report and "relevance" not in report.lower()
    assert "unparsed" not in report


def test_a_reward_model_by_hub_id_sits_on_a_panel_beside_a_writing_judge(reward_folder, direct_reward, hub_cache,
                                                                         tmp_path):
    from lab.trust import trust_line
    from models.spec import known_model_specs
    from runs.config import CompareConfig
    from runs.pipeline import run_compare
    from runs.prompt_sets import single_prompt
    from runs.public import offered_answering_models
    from runs.views import score_rows

    add_reward_repo(hub_cache, reward_folder)
    spec = f"reward:{REWARD_REPO}"
    assert spec in known_model_specs() and REWARD_REPO not in known_model_specs()  # offered as what it is
    assert spec not in offered_answering_models()  # it writes no answers
    config = CompareConfig(model_a="scripted:Apples, pears and plums.", model_b="scripted:The weather is nice.",
                           judge=spec, more_judges=[WRITER], mode="single", judge_method="parsed", judge_cache=False,
                           out_dir=str(tmp_path))
    (record,) = [u.record for u in run_compare(config, [single_prompt("Name three fruits.")]) if u.stage == "record"]
    rewards = {side: direct_reward("Name three fruits.", record["answers"][side]["text"]) for side in ("A", "B")}
    assert record["status"] == "ok" and record["panel"]["used"] == 2
    assert record["rubric"]["criteria"] == ["relevance", "coherence", "completeness", "preference"]
    reward_member, writer = record["panel"]["members"]
    assert reward_member["judge"] == spec and list(reward_member["scores"]["A"]) == ["preference"]
    check_reward_scores(reward_member, rewards)
    kept = record["judgement"]["panel"][0]["judgement"]
    assert (kept["A"]["reward"], kept["B"]["reward"]) == pytest.approx((rewards["A"], rewards["B"]), abs=1e-4)
    assert reward_member["winner"] == ("tie" if abs(1 / (1 + math.exp(rewards["B"] - rewards["A"])) - 0.5) < 0.05
                                       else "A" if rewards["A"] > rewards["B"] else "B")
    assert writer["scores"] == {"A": {"relevance": 4, "coherence": 3, "completeness": 4},
                                "B": {"relevance": 1, "coherence": 2, "completeness": 1}}
    # each criterion the mean of the judges that scored it: the writer's three, the reward model's preference
    for side, written in (("A", 11), ("B", 4)):
        assert record["scores"][side]["preference"] == reward_member["scores"][side]["preference"]
        assert record["totals"][side] == pytest.approx(written + reward_member["scores"][side]["preference"])
    rows = {row[0]: row[1:] for row in score_rows(record)}
    assert "Preference = 1 + 3·sigmoid(r)" in rows and "Total (of 16)" in rows
    assert "Reward r (raw, the model's own scale)" in rows
    trust = trust_line(record)
    assert f"{REWARD_REPO}: a reward model" in trust and "scores are read from its written reply" in trust


def test_the_judge_lab_validates_a_reward_model_and_the_trust_line_cites_it(reward_folder, direct_reward):
    from dashboard.judge_lab import calibrated, method_notes
    from lab.trust import trust_line
    from lab.validation import ValidationConfig, load_labelled, load_validation, run_validation

    spec = f"reward:{reward_folder}"
    data = PROMPTS_DIR / "validation" / "good_vs_broken_pairs.jsonl"
    config = ValidationConfig(data=str(data), judges=[spec], methods=["auto", "parsed"], limit=4)
    updates = list(run_validation(config))
    run = load_validation(updates[-1].folder)
    ((name, metrics),) = run.metrics.items()
    assert metrics["method"] == "head" and metrics["methods_ticked"] == ["auto", "parsed"] and metrics["n"] == 4
    assert metrics["unparsed_share"] == 0 and metrics["position_consistency"] == 1.0
    items = {item.id: item for item in load_labelled(data).items}
    for row in run.verdicts[name]:
        item = items[row["id"]]
        r_a, r_b = direct_reward(item.prompt, item.answer_a), direct_reward(item.prompt, item.answer_b)
        assert row["predicted"] == ("A" if r_a > r_b else "B") and row["orders"] == {"AB": row["predicted"],
                                                                                     "BA": row["predicted"]}
        assert row["p_predicted"] == pytest.approx(1 / (1 + math.exp(-abs(r_a - r_b))), abs=1e-3)
    assert calibrated(run) == [name]  # sigmoid(r_A - r_B) is a stated probability: it has a calibration
    assert any("ran **head** where auto and parsed were ticked" in note for note in method_notes(run))
    trust = trust_line({"judge": spec, "method": "head", "judgement": {}})
    agreement = f"{metrics['agreement']:.0%}"
    assert "a reward model" in trust and "validated in the Judge Lab on good\\_vs\\_broken\\_pairs" in trust
    assert f"agrees with the gold labels on {agreement}" in trust and "of 4 items (a sanity check" in trust


def test_the_app_compares_with_a_typed_reward_spec(reward_folder, direct_reward):
    from models.settings import DEFAULT_PRESET
    from runs.judge_options import judge_options
    from ui.compare_tab import _compare

    spec = f"reward:{reward_folder}"
    options = judge_options(spec)
    assert options.scoring and not options.reasons and "is a reward model" in options.note
    preset = PRESETS[DEFAULT_PRESET]
    *_, last = _compare("scripted:Apples, pears and plums.", "scripted:The weather is nice.", spec,
                        "Name three fruits.", DEFAULT_PRESET, preset.temperature, preset.min_p, preset.top_p, 32,
                        preset.seed, "single", "", True, 0.0, "auto", False, [], "", False, "refuse", "", "", 0.0)
    verdict, rows, trust = last[2], last[3], last[5]
    r_a = direct_reward("Name three fruits.", "Apples, pears and plums.")
    r_b = direct_reward("Name three fruits.", "The weather is nice.")
    won, lost = ("A", "B") if r_a > r_b else ("B", "A")
    assert verdict.startswith(f"### Winner: {won} (P({won} better) = sigmoid(r_{won} − r_{lost}) ")
    assert float(verdict.split(") ")[-1].rstrip("%)")) == pytest.approx(100 / (1 + math.exp(-abs(r_a - r_b))), abs=0.1)
    assert [row[0] for row in rows] == ["Preference = 1 + 3·sigmoid(r)", "Total (of 4)",
                                        "Reward r (raw, the model's own scale)"]
    assert "a reward model" in trust
