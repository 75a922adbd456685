"""How far to trust the judge behind a verdict, in words for the page and the report: how it scored (token
probabilities, a parsed reply, a trained scoring head, a reward model), how sure it was where it says, and what it
measured against gold labels: the measurement a shipped judge was trained with and its newest Judge Lab validation
side by side (a small validation marked as a sanity check), else a plain "not validated". A constant judge and a
validated one should not look equally authoritative."""
from __future__ import annotations

from pathlib import Path

from basics import read_json, results_dir
from lab.validation import judge_folder_name
from models.spec import REWARD_PREFIX, shipped_judges
from runs.records import cut_off_at
from runs.views import as_text

METHOD_WORDS = {
    "probabilities": "scores are expected values of its token probabilities",
    "parsed": "scores are read from its written reply",
    "head": "a trained scoring judge (a reward head on its base model; no written reasons)",
}
REWARD_WORDS = ("a reward model: one scalar reward per answer, each answer read alone through its chat template, so "
                "the order cannot sway it; P(A better) = sigmoid(r_A − r_B), and its score is that reward mapped onto "
                "the scale (one criterion, preference); no written reasons")


SANITY_CHECK_ITEMS = 50  # fewer labelled items than this: a validation checks the judge works, not how well


def _interval(metrics: dict) -> str:
    """The agreement's interval; one that collapsed to a point (a bootstrap over items that all agree, as results
    written before Wilson's interval have) is left out rather than shown as certainty."""
    ci = metrics.get("agreement_ci")
    if not ci or None in ci or round(ci[0], 2) == round(ci[1], 2):
        return ""
    return f" (95% interval {ci[0]:.0%}-{ci[1]:.0%})"


def lab_validation(judge: str, method: str | None) -> tuple[dict, str] | None:
    """The newest Judge Lab measurement of `judge` (with `method` when there is one for it): (metrics, data name)."""
    root = results_dir() / "validation"
    if not root.is_dir():
        return None
    names = [judge_folder_name(judge, m) for m in ([method] if method else [])]
    names += [p.name for p in root.glob(f"*/{judge_folder_name(judge, '*')}") if p.name not in names]
    for folder in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True):
        for name in names:
            metrics = read_json(folder / name / "metrics.json")
            if metrics and metrics.get("judge") == judge and metrics.get("agreement") is not None:
                data = (read_json(folder / "run.json") or {}).get("data") or folder.name
                return metrics, Path(str(data)).stem
    return None


def shipped_measurement(judge: str) -> str | None:
    """What a shipped judge measured when it was trained (its meta.json), in words."""
    folder = shipped_judges().get(judge)
    meta = read_json(folder / "meta.json") if folder else None
    parts = []
    for found in ((meta or {}).get("measured") or {}).values():
        head = (found or {}).get("head") or {}
        if head.get("agreement") is not None:
            parts.append(f"{head['agreement']:.0%}{_interval(head)} on {found.get('title', 'held-out pairs')} "
                         f"(n={head.get('n')})")
    return "; ".join(parts) or None


def mean_confidence(record: dict) -> float | None:
    """The probability mass the judge put on allowed values, averaged over the record's criteria and readings."""
    judgement = record.get("judgement") or {}
    parts = judgement.get("orders") or [judgement.get(side) or {} for side in ("A", "B")]
    values = [v for part in parts for v in ((part or {}).get("confidence") or {}).values() if v is not None]
    return sum(values) / len(values) if values else None


def method_words(record: dict) -> str:
    """How the judge scored, in words. A reward model's method is `head`, as every scoring judge's, but it is no
    reward head: it is named as a reward model, and on a panel each member is named with its own way."""
    members = (record.get("panel") or {}).get("members") or []
    if any(str(m.get("judge")).startswith(REWARD_PREFIX) for m in members):
        return "; ".join(f"{as_text(m.get('judge'))}: {_one_judge_words(m.get('judge'), m.get('method'))}"
                         for m in members)
    return _one_judge_words(record.get("judge"), record.get("method"))


def _one_judge_words(judge, method) -> str:
    return REWARD_WORDS if str(judge).startswith(REWARD_PREFIX) else METHOD_WORDS.get(method, "")


def trust_line(record: dict) -> str:
    """One line for the page and the report: the judge's method, confidence and measured agreement."""
    judge, method = record.get("judge") or "the judge", record.get("method")
    words = [f"**How far to trust this verdict:** judge {as_text(judge)}"]
    if how := method_words(record):
        words.append(how)
    confidence = mean_confidence(record)
    if confidence is not None:
        words.append(f"confidence {confidence:.0%} (its probability mass on the allowed scores)")
    validated = lab_validation(judge, method)
    shipped = shipped_measurement(judge)
    if shipped:  # beside a lab result, never replaced by one: a dozen items cannot outweigh a held-out thousand
        words.append(f"measured when it was trained: {shipped}")
    if validated:
        metrics, data = validated
        n = metrics.get("n")
        small = isinstance(n, int) and n < SANITY_CHECK_ITEMS
        words.append(f"validated in the Judge Lab on {as_text(data)}: agrees with the gold labels on "
                     f"{metrics['agreement']:.0%}{_interval(metrics)} of {n if n is not None else '?'} items"
                     + (f" (a sanity check: under {SANITY_CHECK_ITEMS} items say little about how often it agrees "
                        "with people)" if small else ""))
    if not shipped and not validated:
        words.append("**not validated**: nothing says how often it agrees with people; measure it in the Judge "
                     "Lab before trusting its verdicts")
    if cut := cut_off_words(record):
        words.append(cut)
    return " · ".join(words)


def cut_off_words(record: dict) -> str:
    """A flag for answers graded although the token limit cut them off: a judge of completeness read unfinished
    text ('' when neither was cut off)."""
    cut = {side: limit for side in ("A", "B") if (limit := cut_off_at(record, side))}
    if not cut:
        return ""
    which = " and ".join(f"answer {side}" for side in cut)
    limits = " / ".join(str(v) for v in dict.fromkeys(cut.values()))
    criteria = (record.get("rubric") or {}).get("criteria") or []
    both = len(cut) > 1
    if "completeness" in criteria:
        graded = f"{'their' if both else 'its'} completeness was"
    else:
        graded = "they were" if both else "it was"
    return (f"**{which} {'were' if both else 'was'} cut off at {limits} tokens** (max new tokens): "
            f"{graded} graded on unfinished text")
