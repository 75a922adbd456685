"""A suite's modes read off one run record (the model under test is side A, the baseline side B).

A mode either holds, does not, or cannot be told: a failed record, or a judge reply that could not be read. Cannot
be told is a failure with its reason whichever list the mode is in (an unreadable verdict never passes a case).
"""
from __future__ import annotations

from dataclasses import dataclass

from analysis.checks import run_check
from evals.suite import Case, Mode
from runs.records import FAILED

SIDE = "A"


@dataclass(frozen=True)
class ModeResult:
    description: str  # "fail_if: contains 'as an ai'", "total at least 9"
    passed: bool
    reason: str  # why it failed (or what was found), in words


@dataclass(frozen=True)
class SampleResult:
    """One answer to a case and every mode's result on it."""

    number: int  # 1-based
    answer: str
    modes: tuple[ModeResult, ...]
    reasons: str  # the judge's reasons for the answer, "" where it wrote none
    run_dir: str = ""

    @property
    def passed(self) -> bool:
        return all(m.passed for m in self.modes)


def holds(mode: Mode, record: dict) -> tuple[bool | None, str]:
    """(whether `mode` holds for the record's side A, what was found); None when it cannot be told."""
    if record.get("status") == FAILED:
        return None, f"no answer to judge: {record.get('error') or 'the prompt failed'}"
    if mode.kind == "check":
        result = run_check(mode.check, record["answers"][SIDE]["text"])
        return result.passed, result.detail or ("found" if result.passed else "")
    if mode.kind == "beats_baseline":
        return _beats(mode, record)
    scores = (record.get("scores") or {}).get(SIDE)
    if scores is None:
        return None, unread_verdict(record)
    if mode.kind == "min_total":
        total = (record.get("totals") or {}).get(SIDE)
        if total is None:
            return None, "the judge gave no total (it scored no criteria)"
        return total >= mode.value, f"total {total:g}"
    if mode.criterion not in scores:
        return None, f"the judge gave no {mode.criterion} score (it scored {', '.join(scores) or 'nothing'})"
    score = scores[mode.criterion]
    met = score >= mode.at_least if mode.at_least is not None else score <= mode.at_most
    return met, f"{mode.criterion} {score:g}"


def _beats(mode: Mode, record: dict) -> tuple[bool | None, str]:
    winner = record.get("winner")
    if winner is None:
        return None, unread_verdict(record)
    if winner != SIDE:
        return False, "the judge preferred the baseline" if winner == "B" else "the judge called it a tie"
    if not mode.value:
        return True, "the judge preferred it"
    totals = record.get("totals") or {}
    if totals.get("A") is None or totals.get("B") is None:
        return None, "the judge named a winner without scores, so the margin cannot be measured"
    gap = totals["A"] - totals["B"]
    return gap >= mode.value, f"won by {gap:g} points ({totals['A']:g} to {totals['B']:g})"


def unread_verdict(record: dict) -> str:
    """Why the record has no verdict on side A: the parse error and the judge's last raw reply."""
    judgement = record.get("judgement") or {}
    calls = [(judgement.get(SIDE) or {}).get("call")] if SIDE in judgement else [
        order.get("call") for order in judgement.get("orders") or [] if order.get("status") != "ok"]
    for call in filter(None, calls):
        replies = call.get("raw_replies") or []
        said = f"; it replied {_short(replies[-1])!r}" if replies else ""
        return f"the judge's verdict could not be read ({call.get('error') or 'unparsed'}){said}"
    return "the judge gave no verdict (unparsed)"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def evaluate_sample(case: Case, record: dict, number: int, run_dir: str = "") -> SampleResult:
    """Every mode of `case` on one record: expect modes must hold, fail_if modes must not."""
    results = []
    for mode in case.expect:
        found, detail = holds(mode, record)
        results.append(ModeResult(mode.description, found is True, detail))
    for mode in case.fail_if:
        found, detail = holds(mode, record)
        results.append(ModeResult(f"not: {mode.description}", found is False, detail))
    reasons = ((record.get("reasons") or {}).get(SIDE) or "").strip()
    return SampleResult(number, record["answers"][SIDE]["text"], tuple(results), reasons, run_dir)
