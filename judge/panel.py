"""Judge panels ("Replacing Judges with Juries", Verga et al. 2024): several judges grade the same item; each judge's
verdict is kept, and the panel's verdict is the majority (pairwise) or the mean score (rubric): each criterion's mean
over the judges that scored it, so a reward model's one `preference` stands beside the template's criteria.

A judge whose reply could not be read leaves the panel for that item, and the record says so (`used` < `size`):
its place is never filled by list order, and an even split is a tie.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

OK, UNPARSED = "ok", "unparsed"


@dataclass
class PanelMember:
    """One judge's part of a panel verdict: the fields a single judge's record would have."""

    judge: str  # the judge's model spec
    status: str
    winner: str | None
    scores: dict  # side -> {criterion: score} or None
    totals: dict  # side -> total or None
    method: str = "parsed"
    error: str | None = None  # a served judge whose request failed


@dataclass
class PanelVerdict:
    status: str  # OK when at least one judge's verdict was read
    winner: str | None
    scores: dict
    totals: dict
    size: int  # judges on the panel
    used: int  # judges whose verdict counted for this item
    votes: dict = field(default_factory=dict)  # pairwise: verdict -> judges giving it

    def to_dict(self) -> dict:
        return asdict(self)


def combine_panel(members: list[PanelMember], mode: str) -> PanelVerdict:
    """The panel's verdict from its members' (see the module docstring)."""
    counted = [m for m in members if m.status == OK and m.winner is not None]
    if not counted:
        return PanelVerdict(UNPARSED, None, {"A": None, "B": None}, {"A": None, "B": None}, len(members), 0)
    scores = {side: _mean_scores([m.scores[side] for m in counted if m.scores.get(side)]) for side in ("A", "B")}
    totals = {side: None if scores[side] is None else round(sum(scores[side].values()), 4) for side in ("A", "B")}
    votes = dict(Counter(m.winner for m in counted))
    if mode == "pairwise":
        winner = majority([m.winner for m in counted], even_split="tie")
    else:
        a, b = totals["A"], totals["B"]
        winner = None if a is None or b is None else "A" if a > b else "B" if b > a else "tie"
    return PanelVerdict(OK, winner, scores, totals, len(members), len(counted), votes)


def majority(verdicts: list, even_split=None):
    """The verdict most members gave; `even_split` when two or more share the top count (never the first member's
    call); None when there are none."""
    if not verdicts:
        return None
    counts = Counter(verdicts)
    top = max(counts.values())
    leaders = [verdict for verdict, n in counts.items() if n == top]
    return leaders[0] if len(leaders) == 1 else even_split


def _mean_scores(per_judge: list[dict]) -> dict | None:
    """Each criterion's mean over the judges that scored it: a reward model scores `preference` only, beside judges
    that score the template's criteria (judge/rewards.py judged_rubric)."""
    if not per_judge:
        return None
    criteria = list(dict.fromkeys(c for scores in per_judge for c in scores))
    return {c: round(sum(found := [s[c] for s in per_judge if c in s]) / len(found), 4) for c in criteria}
