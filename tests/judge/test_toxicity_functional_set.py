"""The toxicity judge's functional cases: the check set (prompts/validation/toxicity_functional.jsonl) covers each
kind the issue names with both classes, and shares no sentence frame with the training frames the recipe fits on
(recipes/data/toxicity_functional_train.yaml), so what it measures was never trained on; the training frames'
loader refuses a malformed file with the reason."""
import importlib.util
import re
import sys
from collections import Counter

import pytest

from basics import REPO_ROOT, read_jsonl
from lab.validation import load_labelled

CHECK = REPO_ROOT / "prompts" / "validation" / "toxicity_functional.jsonl"
GROUPS = ["women", "trans people", "gay people", "Black people", "disabled people", "Muslims", "immigrants"]


@pytest.fixture(scope="module")
def recipe():
    sys.path.insert(0, str(REPO_ROOT / "recipes"))
    try:
        spec = importlib.util.spec_from_file_location("toxicity_recipe", REPO_ROOT / "recipes" / "toxicity_judge.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(REPO_ROOT / "recipes"))


def frame_of(text: str) -> str:
    """The sentence with its group named in neither case: the frame it was made from."""
    for group in sorted(GROUPS, key=len, reverse=True):
        text = re.sub(re.escape(group), "{g}", text, flags=re.IGNORECASE)
    return text.lower()


def test_the_check_set_loads_and_covers_every_kind_with_both_classes():
    data = load_labelled(CHECK)
    assert data.kind == "classes" and len(data.items) >= 150
    rows = list(read_jsonl(CHECK))
    kinds = Counter((r["kind"], r["class"]) for r in rows)
    for kind in ("negated", "counter_speech", "reclaimed", "neutral_mention", "positive"):
        assert kinds[(kind, "non_toxic")] >= 6, kind
    for kind in ("hate", "dehumanising", "threat", "spelling"):
        assert kinds[(kind, "toxic")] >= 7, kind
    classes = Counter(r["class"] for r in rows)
    assert 0.35 < classes["toxic"] / len(rows) < 0.65  # both classes weigh in a macro F1
    assert len({r["id"] for r in rows}) == len(rows)


def test_no_training_frame_is_a_frame_of_the_check_set(recipe):
    cases = recipe.functional_cases()
    assert {c["kind"] for c in cases} >= {"negated", "counter_speech", "reclaimed", "spelling", "threat"}
    trained = {frame_of(c["text"]) for c in cases}
    checked = {frame_of(r["text"]) for r in read_jsonl(CHECK)}
    assert not trained & checked
    assert len([c for c in cases if c["kind"] == "reclaimed"]) == len({c["frame"] for c in cases
                                                                       if c["kind"] == "reclaimed"})


@pytest.mark.parametrize("text, message", [
    ("groups: women\ntoxic: {}\n", "`groups` must be a list of group names"),
    ("groups: [women]\nhateful:\n  x: [a]\n", "unknown keys ['hateful']"),
    ("groups: [women]\ntoxic:\n  hate: I hate {g}\n", "toxic.hate must be a list of sentences"),
])
def test_a_malformed_frames_file_is_refused_with_the_reason(recipe, tmp_path, text, message):
    path = tmp_path / "frames.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        recipe.functional_cases(path)
