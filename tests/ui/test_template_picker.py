"""The Compare tab's template picker (ui/compare_tab.py): each mode's templates by name, Prometheus 2's among them,
the picked template's YAML in the box, and a comparison judged with it from the page's own handler (scripted
models and judge, no browser)."""
import pytest

from ui import compare_tab

pytestmark = pytest.mark.usefixtures("fresh_models")  # scripted models start from their first reply

MODEL_A, MODEL_B = "scripted:Whisk oil, vinegar and flour; bake 30 minutes.", "scripted:Lima is in Peru."


def test_each_mode_offers_its_templates_with_its_default_picked():
    names, default, text = compare_tab.mode_templates("single")
    assert default == "judge_single" and "prometheus_absolute" in names and "prometheus_relative" not in names
    assert "prices" not in names  # prompts/prices.yaml is no template
    names, default, _ = compare_tab.mode_templates("pairwise")
    assert default == "judge_pairwise" and "prometheus_relative" in names and "prometheus_absolute" not in names
    assert text.startswith("name: rubric-single")


def test_a_shared_app_offers_the_shipped_templates_only(monkeypatch, tmp_path):
    (tmp_path / "mine.yaml").write_text(compare_tab.picked_template("judge_single").replace("rubric-single", "mine"))
    monkeypatch.setenv("LLM_JUDGE_TEMPLATES", str(tmp_path))
    assert "mine" in compare_tab.mode_templates("single")[0]
    monkeypatch.setattr(compare_tab, "public_gate", lambda: object())  # a shared app is on
    assert "mine" not in compare_tab.mode_templates("single")[0]


def compare(mode: str, template: str, judge: str):
    """The last update of the page's Compare handler: (answer A, answer B, verdict, score rows, reasons, status, shown)."""
    return list(compare_tab.compare(MODEL_A, MODEL_B, judge, "Bake a cake without eggs.", "p1", 0.5, 0.05, 1.0, 32,
                                    0, mode, compare_tab.picked_template(template), True, 0.0, "auto", True))[-1]


def test_a_comparison_judged_with_the_picked_absolute_template_shows_one_overall_score():
    _, _, verdict, rows, reasons, _, shown = compare("single", "prometheus_absolute",
                                                     "scripted:Egg-free. [RESULT] 5||Off topic. [RESULT] 2")
    assert verdict == "### Winner: A" and rows == [["Overall", "5", "2"], ["Total (of 5)", "5", "2"]]
    assert "Egg-free." in reasons and shown["rubric"] == {"criteria": ["overall"], "scale": [1, 5]}
    assert compare_tab.label_scores(shown).label == "Scores (1-5 per criterion, total of 5)"


def test_a_comparison_judged_with_the_picked_relative_template_shows_its_verdict_and_no_scores():
    _, _, verdict, rows, _, _, shown = compare("pairwise", "prometheus_relative",
                                               "scripted:A bakes. [RESULT] A||B bakes. [RESULT] B")
    assert verdict.startswith("### Winner: A") and rows == [["(no scores: the judge names the better answer)", "–",
                                                              "–"]]
    assert compare_tab.label_scores(shown).label.startswith("Scores: none")
