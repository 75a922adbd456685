"""Plain-data views of a comparison record (tables, verdict lines) shared by the app and the CLI."""
from __future__ import annotations

SCORE_HEADERS = ["Criterion", "A", "B"]


def _fmt(value) -> str:
    if value is None:
        return "unparsed"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def max_total(record: dict, scale_high: int = 4) -> int:
    scores = record["scores"]["A"] or record["scores"]["B"] or {}
    return scale_high * (len(scores) or 3)


def score_rows(record: dict, criteria: tuple[str, ...] = ("relevance", "coherence", "completeness")) -> list[list]:
    """Rows 'criterion, A, B' plus the total; 'unparsed' where the judge's reply could not be read."""
    scores = record["scores"]
    rows = [[c.capitalize(), _fmt((scores["A"] or {}).get(c) if scores["A"] else None),
             _fmt((scores["B"] or {}).get(c) if scores["B"] else None)] for c in criteria]
    top = max_total(record)
    rows.append([f"Total (of {top})", _fmt(record["totals"]["A"]), _fmt(record["totals"]["B"])])
    return rows


def verdict_line(record: dict) -> str:
    winner = record.get("winner")
    if winner is None:
        return "No verdict: the judge's reply could not be parsed (raw replies are saved with the run)."
    text = "Tie" if winner == "tie" else f"Winner: {winner}"
    if record.get("consistent") is False:
        text += " (inconsistent: the verdict flipped when the answers were swapped, so it counts as a tie)"
    elif record.get("consistent") is True:
        text += " (consistent in both orders)"
    return text


def reasons_markdown(record: dict) -> str:
    judgement = record.get("judgement", {})
    if record["mode"] == "single":
        parts = []
        for side in ("A", "B"):
            j = judgement.get(side, {})
            if j.get("status") == "ok":
                parts.append(f"**{side}:** {j.get('reasons') or '(no reasons given)'}")
            else:
                parts.append(f"**{side}:** unparsed: {j.get('call', {}).get('error')}")
        return "\n\n".join(parts)
    lines = []
    for order in judgement.get("orders", []):
        label = "A shown first" if order["order"] == "AB" else "B shown first"
        if order["status"] == "ok":
            lines.append(f"**{label}:** verdict {order['verdict']}. {order['reasons']}")
        else:
            lines.append(f"**{label}:** unparsed: {order['call']['error']}")
    return "\n\n".join(lines)


def timings_line(record: dict) -> str:
    t = record["timings"]
    a, b = record["answers"]["A"], record["answers"]["B"]
    return (f"answer A {t['answer_a']:.1f} s ({a['n_tokens']} tokens, {a['tokens_per_second']:.1f} tok/s) · "
            f"answer B {t['answer_b']:.1f} s ({b['n_tokens']} tokens, {b['tokens_per_second']:.1f} tok/s) · "
            f"judge {t['judge']:.1f} s · total {t['total']:.1f} s")


def record_line(index: int, total: int, record: dict) -> str:
    """One line per finished prompt for the CLI."""
    top = max_total(record)
    show = {s: ("unparsed" if v is None else f"{v:g}/{top}") for s, v in record["totals"].items()}
    flag = " (inconsistent)" if record.get("consistent") is False else ""
    return f"[{index + 1}/{total}] {record['id']}: A {show['A']}  B {show['B']}  winner {record['winner'] or 'unknown'}{flag}"


def batch_row(record: dict) -> list:
    """One row of the Batch tab's live table: id, preset, totals, winner."""
    return [record["id"], record.get("preset") or "custom", _fmt(record["totals"]["A"]), _fmt(record["totals"]["B"]),
            record.get("winner") or "unknown"]


def summary_table_markdown(summary: dict) -> str:
    """A run's summary.json as a table: the whole run, then each preset."""
    parts = {"all records": summary, **summary.get("by_preset", {})}
    lines = ["| | records | A wins | B wins | ties | unknown | mean total A | mean total B | A's win rate (95% CI) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, part in parts.items():
        wins, means = part["wins"], part["mean_total"]
        rate = (part.get("stats") or {}).get("win_rate") or {}
        rate_text = "n/a" if rate.get("rate") is None else (
            f"{rate['rate']:.0%}" + ("" if rate.get("low") is None else f" ({rate['low']:.0%}-{rate['high']:.0%})"))
        mean = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(f"| {name} | {part['n']} | {wins['A']} | {wins['B']} | {wins['tie']} | {wins['unknown']} | "
                     f"{mean(means['A'])} | {mean(means['B'])} | {rate_text} |")
    return "\n".join(lines) + "\n\nWin rate counts a tie as half a win; 'unknown' = the judge's reply was unparsed."
