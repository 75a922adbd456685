"""A judge panel measured against gold labels, from its members' verdict rows in a validation (no extra judge calls):
the majority of the members' verdicts (pairs, classes) or the mean of their totals (scores), members without a
verdict leaving the panel for that row, and Krippendorff's alpha between the members."""
from __future__ import annotations

from analysis.panel_agreement import krippendorff_alpha
from judge.panel import majority

PANEL_NAME = "panel"


def panel_rows(kind: str, rows_by_judge: dict[str, list[dict]]) -> list[dict]:
    """One verdict row per labelled row, shaped like a single judge's (lab/validation.py judge_item)."""
    judges = list(rows_by_judge)
    rows = []
    for position, first in enumerate(rows_by_judge[judges[0]]):
        members = {judge: rows_by_judge[judge][position] for judge in judges}
        given = {judge: row["predicted"] for judge, row in members.items()
                 if row["predicted"] is not None and row["status"] == "ok"}
        row = {"id": first["id"], "gold": first["gold"], "method": first["method"], "members": given,
               "size": len(judges), "used": len(given), "predicted": _combine(kind, list(given.values())),
               "seconds": round(sum(r["seconds"] for r in members.values()), 3)}
        row["status"] = "ok" if given else "unparsed"
        if "len_a" in first:
            row.update(len_a=first["len_a"], len_b=first["len_b"])
        rows.append(row)
    return rows


def _combine(kind: str, verdicts: list):
    if kind == "scores":
        return round(sum(verdicts) / len(verdicts), 4) if verdicts else None
    return majority(verdicts, even_split="tie" if kind == "pairs" else None)  # an evenly split class: no class


def panel_alpha(kind: str, rows: list[dict]) -> dict:
    """Krippendorff's alpha between the members over the rows (nominal for verdicts and classes, interval for
    scores)."""
    judges = sorted({judge for row in rows for judge in row["members"]})
    level = "interval" if kind == "scores" else "nominal"
    values = sorted({str(v) for row in rows for v in row["members"].values()})
    code = (lambda v: float(v)) if kind == "scores" else (lambda v: float(values.index(str(v))))
    data = [[code(row["members"][judge]) if judge in row["members"] else None for row in rows] for judge in judges]
    return {"panel_alpha": krippendorff_alpha(data, level), "panel_alpha_level": level}
