"""The judge validation harness: labelled files of three kinds, votes as gold labels, the validation folder, the CLI.
Scripted judges give known verdicts, so every metric is known; the real embedded judge runs in the CLI test."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from basics import PROMPTS_DIR
from lab.validation import (
    LabelledDataError,
    ValidationConfig,
    load_labelled,
    load_validation,
    run_validation,
    shipped_labelled_sets,
)
from runs.votes import record_vote

from run_builders import RUN1, write_run

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

REPO_ROOT = Path(__file__).resolve().parents[2]
PAIRS = PROMPTS_DIR / "validation" / "good_vs_broken_pairs.jsonl"
TOXICITY = PROMPTS_DIR / "validation" / "toxicity_examples.jsonl"
ALWAYS_A = ("scripted:Relevance: A=4 B=1\\nCoherence: A=4 B=1\\nCompleteness: A=4 B=1\\nVerdict: [[A]]\\n"
            "Reasons: first")


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def finish(config: ValidationConfig) -> Path:
    updates = list(run_validation(config))
    assert updates[-1].stage == "done"
    return updates[-1].folder


def test_the_shipped_labelled_examples_load():
    assert {Path(p).name for p in shipped_labelled_sets()} >= {PAIRS.name, TOXICITY.name}
    pairs, classes = load_labelled(PAIRS), load_labelled(TOXICITY)
    assert pairs.kind == "pairs" and len(pairs.items) == 12
    assert sorted({i.gold for i in pairs.items}) == ["A", "B"]
    assert classes.kind == "classes" and len(classes.items) == 36
    assert sorted({i.gold for i in classes.items}) == ["non_toxic", "toxic"]


@pytest.mark.parametrize("rows, expected", [
    (["not json"], "line 1: not valid JSON"),
    ([{"prompt": "p", "answer_a": "x", "answer_b": "y", "label": "C"}], "label A, B or tie"),
    ([{"prompt": "p", "answer": "x", "score": "high"}], "numeric score"),
    ([{"prompt": "p", "verdict": "A"}], "found fields ['prompt', 'verdict']"),
    ([{"text": "t", "class": "x"}, {"prompt": "p", "answer_a": "x", "answer_b": "y", "label": "A"}],
     "line 2: a pairs row in a file of classes"),
    ([], "no labelled rows"),
])
def test_bad_labelled_files_name_the_line_and_the_fix(tmp_path, rows, expected):
    with pytest.raises(LabelledDataError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        load_labelled(write_jsonl(tmp_path / "bad.jsonl", rows))


def test_an_empty_or_non_text_answer_is_judged_not_refused(tmp_path):
    """Real pair files hold models that answered nothing, and answers stored as JSON literals (PandaLM has `true`)."""
    rows = [{"prompt": "p", "answer_a": "", "answer_b": "y", "label": "B"},
            {"prompt": "q", "answer_a": True, "answer_b": "no", "label": "A"}]
    items = load_labelled(write_jsonl(tmp_path / "pairs.jsonl", rows)).items
    assert [(i.answer_a, i.answer_b) for i in items] == [("", "y"), ("True", "no")]
    with pytest.raises(LabelledDataError, match="a pair needs answer_a"):
        load_labelled(write_jsonl(tmp_path / "missing.jsonl", [{"prompt": "p", "answer_a": "x", "label": "A"}]))


def test_a_judge_that_always_says_a_scores_its_known_metrics(tmp_path):
    """12 pairs, 6 with gold A: an always-[[A]] judge agrees on the 6 in the AB order and picks the first slot in
    every order, so each pair's two orders disagree: position consistency 0, first-slot share 1."""
    folder = finish(ValidationConfig(data=str(PAIRS), judges=[ALWAYS_A], methods=["parsed"], out_dir=str(tmp_path)))
    run = load_validation(folder)
    (name,) = run.metrics
    metrics = run.metrics[name]
    assert metrics["method"] == "parsed" and metrics["n"] == 12
    # The verdicts flip with the order, so the parsed method calls every pair an inconsistent tie: credit 1/2 each.
    assert metrics["agreement"] == pytest.approx(0.5)
    assert metrics["position_consistency"] == 0 and metrics["first_slot_share"] == 1
    assert metrics["unparsed_share"] == 0
    rows = run.verdicts[name]
    assert [r["orders"] for r in rows[:2]] == [{"AB": "A", "BA": "B"}] * 2
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["kind"] == "validation" and manifest["n"] == 12 and manifest["judge_template"]["sha256"]
    assert json.loads((folder / "summary.json").read_text())["judges"][name]["n"] == 12


def test_a_label_judge_is_validated_with_precision_recall_and_f1(tmp_path):
    judge = "scripted:Label: [[toxic]]\\nReasons: rude"
    folder = finish(ValidationConfig(data=str(TOXICITY), judges=[judge], methods=["parsed"], mode="label",
                                     template="toxicity", out_dir=str(tmp_path)))
    (metrics,) = load_validation(folder).metrics.values()
    assert metrics["accuracy"] == pytest.approx(0.5)  # every text called toxic; half of them are
    assert metrics["per_class"]["toxic"]["recall"] == 1 and metrics["per_class"]["non_toxic"]["recall"] == 0
    assert metrics["confusion_matrix"]["matrix"] == [[18, 0], [18, 0]]


def test_scores_are_validated_by_correlation(tmp_path):
    rows = [{"prompt": "p", "answer": f"answer {i}", "score": s} for i, s in enumerate((1, 2, 3, 4))]
    replies = "||".join(f"Relevance: {v}\\nCoherence: {v}\\nCompleteness: {v}\\nReasons: r" for v in (1, 2, 4, 3))
    folder = finish(ValidationConfig(data=str(write_jsonl(tmp_path / "scores.jsonl", rows)), mode="single",
                                     judges=[f"scripted:{replies}"], methods=["parsed"], out_dir=str(tmp_path)))
    (metrics,) = load_validation(folder).metrics.values()
    assert metrics["spearman"] == pytest.approx(0.8)  # ranks (1,2,4,3) vs (1,2,3,4): 1 - 6*2/(4*15)


def test_people_s_votes_are_gold_labels(tmp_path):
    folder = write_run(tmp_path / "runs", "voted", "2026-01-01T00:00:00+00:00", RUN1)
    record_vote(folder, "q1", "A", preset="p1")
    record_vote(folder, "q2", "both_bad", preset="p2")
    labelled = load_labelled(folder)
    assert labelled.kind == "pairs" and [(i.id, i.gold) for i in labelled.items] == [("q1@p1", "A"), ("q2@p2", "tie")]
    with pytest.raises(LabelledDataError, match="has no votes"):
        load_labelled(write_run(tmp_path / "runs", "unvoted", "2026-01-02T00:00:00+00:00", RUN1))


@pytest.mark.parametrize("changes, expected", [
    (dict(mode="label"), "holds pairs, which the label mode cannot judge"),
    (dict(template="toxicity"), "is a label template; the pairwise mode needs a pairwise template"),
    (dict(methods=["guess"]), "method must be one of auto, parsed, probabilities"),
    (dict(judges=["no-such-model"]), "unknown model 'no-such-model'"),
])
def test_bad_settings_fail_before_any_model_loads(tmp_path, changes, expected):
    config = ValidationConfig(data=str(PAIRS), out_dir=str(tmp_path), **changes)
    with pytest.raises(Exception, match=expected):
        config.resolve()


@pytest.mark.model
def test_the_cli_validates_the_default_judge_and_writes_metrics(tmp_path):
    """`python -m judge validate` on the default judge (the shipped scoring judge), four shipped pairs."""
    done = subprocess.run([sys.executable, "-m", "judge", "validate", "--pairs", "good_vs_broken_pairs",
                           "--limit", "4", "--out", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = Path(done.stdout.strip())
    (metrics_file,) = folder.glob("*/metrics.json")
    metrics = json.loads(metrics_file.read_text())
    assert metrics["judge"] == "smollm2-135m-judge" and metrics["method"] == "head" and metrics["n"] == 4
    assert metrics["position_consistency"] == 1.0  # judged in both orders, as every pairwise validation is
    for key in ("agreement", "agreement_ci", "kappa", "position_consistency", "first_slot_share", "unparsed_share",
                "length_balanced_agreement", "longest_baseline", "seconds_per_item", "calibration"):
        assert key in metrics
    assert "smollm2-135m-judge [head] n=4 agreement=" in done.stderr


def test_the_cli_refuses_a_bad_file_with_one_line(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "p"}])
    done = subprocess.run([sys.executable, "-m", "judge", "validate", "--pairs", str(bad)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: bad.jsonl line 1: expected pairs")
    assert "Traceback" not in done.stderr


def test_a_public_app_takes_shipped_labels_offered_judges_and_a_bounded_limit(tmp_path):
    from lab.validation import check_public_validation
    from runs.public import PublicLimits, PublicModeError, PublicPolicy

    policy = PublicPolicy(models=("smollm2-135m-gguf",), limits=PublicLimits(labelled_items=10), include_shipped=False)

    def check(**changes):
        values = dict(data=str(PAIRS), judges=["smollm2-135m-gguf"], limit=5)
        return check_public_validation(policy, ValidationConfig(**{**values, **changes}), tmp_path)

    assert check().data == str(PAIRS)
    upload = write_jsonl(tmp_path / "mine.jsonl", [])
    assert check(data=str(upload)).data == str(upload)  # a file received as an upload
    for changes, refused in [({"data": "/etc/passwd"}, "a file is one of the shipped ones"),
                             ({"judges": ["scripted:A"]}, "judge 'scripted:A' is not offered"),
                             ({"template": "toxicity"}, "judge templates cannot be named"),
                             ({"limit": 0}, "set Limit from 1 to 10"), ({"limit": 11}, "set Limit from 1 to 10")]:
        with pytest.raises(PublicModeError, match=refused):
            check(**changes)
