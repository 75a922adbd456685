"""Next to every verdict: how the judge scored, how sure it was, and what it measured against gold labels."""
import json
import shutil

import pytest

from lab.trust import trust_line
from lab.validation import judge_folder_name
from models.spec import shipped_judges

# What the shipped default judge measured on held-out degraded pairs when it was trained (its meta.json), as a
# trust line rounds it: the line must cite this, whatever refit shipped.
SHIPPED = json.loads((shipped_judges()["smollm2-135m-judge"] / "meta.json").read_text())
HELD_OUT = f"{SHIPPED['measured']['test_degraded']['head']['agreement']:.0%}"


def record(judge="scripted:unmeasured", method="parsed", confidence=None):
    part = {"status": "ok", "confidence": confidence}
    return {"judge": judge, "method": method, "mode": "single", "judgement": {"A": part, "B": part}}


def test_an_unvalidated_judge_says_so():
    line = trust_line(record())
    assert "not validated" in line and "Judge Lab" in line and "written reply" in line


def test_a_judge_validated_in_the_lab_shows_its_newest_agreement(results_dir):
    judge = "scripted:validated-judge"
    for stamp, agreement in (("20260101-000000-validate-pairs", 0.55), ("20260102-000000-validate-pairs", 0.8)):
        folder = results_dir / "validation" / stamp / judge_folder_name(judge, "parsed")
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(
            {"judge": judge, "method": "parsed", "agreement": agreement, "agreement_ci": [0.7, 0.9], "n": 40}))
        (folder.parent / "run.json").write_text(json.dumps({"kind": "validation", "data": "/x/good_pairs.jsonl"}))
    line = trust_line(record(judge))
    assert "validated in the Judge Lab on good\\_pairs: agrees with the gold labels on 80% (95% interval 70%-90%) " \
           "of 40 items" in line


def test_a_shipped_judge_cites_what_it_measured_and_probabilities_show_confidence():
    line = trust_line(record("smollm2-135m-judge", "head"))
    assert "trained scoring judge" in line and "measured when it was trained" in line and HELD_OUT in line
    assert "confidence 90%" in trust_line(record(method="probabilities",
                                                 confidence={"relevance": 0.8, "coherence": 1.0}))


def test_a_small_lab_validation_sits_beside_the_shipped_measurement_as_a_sanity_check(results_dir):
    """12 of 12 shipped pairs agreeing: Wilson's interval (76%-100%), never 100%-100%, next to the held-out figure."""
    from analysis.judge_metrics import PairOutcome, pairwise_metrics

    outcomes = [PairOutcome(gold="A", predicted="A", order_verdicts={}, len_a=10, len_b=5, seconds=0.1)] * 12
    metrics = pairwise_metrics(outcomes)
    assert metrics["agreement"] == 1.0 and metrics["agreement_ci"] == [pytest.approx(0.7575, abs=1e-3), 1.0]
    judge = "smollm2-135m-judge"
    folder = results_dir / "validation" / "20991231-000000-validate-pairs" / judge_folder_name(judge, "head")
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"judge": judge, "method": "head", **metrics}))
    (folder.parent / "run.json").write_text(json.dumps({"kind": "validation", "data": "good_vs_broken_pairs"}))
    line = trust_line(record(judge, "head"))
    assert f"measured when it was trained: {HELD_OUT}" in line  # the held-out measurement stays
    assert "on 100% (95% interval 76%-100%) of 12 items (a sanity check" in line
    assert "100%-100%" not in line
    shutil.rmtree(folder.parent)
