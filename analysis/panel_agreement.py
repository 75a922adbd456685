"""Agreement within a judge panel: Krippendorff's alpha (the `krippendorff` package) over the members' verdicts
(nominal: A / B / tie, pairwise) or their totals (interval, single), items where a member gave none left missing.

1 is perfect agreement, 0 what chance would give, below 0 systematic disagreement. A panel whose members never
agree beyond chance is no better evidence than one of them.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

VERDICT_CODES = {"A": 0.0, "B": 1.0, "tie": 2.0}


def panel_agreement(records: Sequence[dict]) -> dict | None:
    """{"alpha", "level", "judges", "items", "pairwise_agreement"} over records with a panel; None without panels."""
    panels = [r["panel"] for r in records if r.get("panel")]
    if not panels:
        return None
    judges = [m["judge"] for m in panels[0]["members"]]
    pairwise = records[0]["mode"] == "pairwise"
    rows = []  # one row per judge, one column per (item, side) rated
    for judge in judges:
        row = []
        for panel in panels:
            member = next((m for m in panel["members"] if m["judge"] == judge), None)
            if pairwise:
                row.append(VERDICT_CODES.get(member and member["winner"], np.nan))
            else:
                totals = (member or {}).get("totals") or {}
                row.extend(np.nan if totals.get(side) is None else float(totals[side]) for side in ("A", "B"))
        rows.append(row)
    data = np.array(rows, dtype=float)
    level = "nominal" if pairwise else "interval"
    rated = int((np.sum(~np.isnan(data), axis=0) >= 2).sum())
    return {"alpha": _alpha(data, level), "level": level, "judges": judges, "items": rated,
            "pairwise_agreement": _pairwise_agreement(data) if pairwise else None}


def krippendorff_alpha(rows: list[list], level: str) -> float | None:
    """Alpha over one row per rater (None = no rating of that unit)."""
    return _alpha(np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float), level)


def _alpha(data: np.ndarray, level: str) -> float | None:
    import krippendorff

    values = data[~np.isnan(data)]
    if data.shape[0] < 2 or values.size < 2 or len(np.unique(values)) < 2:
        return None  # one value everywhere: agreement is undefined, not perfect
    return round(float(krippendorff.alpha(reliability_data=data, level_of_measurement=level)), 4)


def _pairwise_agreement(data: np.ndarray) -> float | None:
    """The share of (judge, judge, item) triples with the same verdict: the plain number beside alpha."""
    same = total = 0
    for i in range(data.shape[0]):
        for j in range(i + 1, data.shape[0]):
            both = ~np.isnan(data[i]) & ~np.isnan(data[j])
            same += int((data[i][both] == data[j][both]).sum())
            total += int(both.sum())
    return round(same / total, 4) if total else None
