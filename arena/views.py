"""What the arena shows in words: a battle's reveal after the vote, the leaderboard's headline and what its numbers
mean (on the page and in a terminal), its exports (CSV, JSON, a single offline HTML page), and the run a link names.
Visitors' and models' text is always shown as text."""
from __future__ import annotations

import html
import json
from pathlib import Path

from arena.battles import JUDGE_RUNS
from arena.config import ArenaError, arena_dir
from arena.leaderboard import METHOD, TABLE_HEADERS, Leaderboard, table_rows, to_csv, to_dict
from arena.store import BattleState
from basics import now_iso, results_dir, write_atomic
from runs.public import RUN_NAME
from runs.store import Run, load_run
from runs.views import as_text

VOTE_TEXT = {"A": "A is better", "B": "B is better", "tie": "Tie", "both_bad": "Both are bad"}
EXPORTS = ("csv", "json", "html")
FEW_VOTES = 30  # below this many votes the page warns that the bootstrap intervals are too narrow to lean on


def judge_text(state: BattleState) -> str:
    """The judge's verdict on the battle in words, or where it stands."""
    judged = state.judged
    if judged is None:
        return "the judge is still working on this battle (refresh in a moment)"
    if judged.get("winner") is None:
        return f"the judge (`{as_text(judged.get('judge'))}`) reached no verdict: {as_text(judged.get('error'))}"
    totals = judged.get("totals") or {}
    scores = (f" (totals A {totals['A']:.2f}, B {totals['B']:.2f})"
              if isinstance(totals.get("A"), int | float) and isinstance(totals.get("B"), int | float) else "")
    run = f" (its run: `?run={judged['run']}`)" if judged.get("run") else ""
    return f"the judge (`{as_text(judged['judge'])}`) says **{VOTE_TEXT[judged['winner']]}**{scores}{run}"


def reveal_markdown(state: BattleState) -> str:
    """Who the models were, the vote, and the judge's verdict: only ever called once the battle has its vote."""
    battle = state.battle
    if state.vote is None:
        return "*Vote first: the models' names and the judge's verdict are shown after your vote.*"
    agree = ""
    if state.judged and state.judged.get("winner"):
        same = {"both_bad": "tie"}.get(state.vote["vote"], state.vote["vote"]) == state.judged["winner"]
        agree = " The judge agrees with the vote." if same else " The judge disagrees with the vote."
    return (f"**Model A** was `{as_text(battle['model_a'])}` · **Model B** was `{as_text(battle['model_b'])}`  \n"
            f"Vote: **{VOTE_TEXT[state.vote['vote']]}** · {judge_text(state)}.{agree}  \n"
            f"Battle `{state.id}` (link: add `?battle={state.id}` to this page's address)")


def leaderboard_markdown(board: Leaderboard) -> str:
    """The headline above the table, and what the numbers mean (the table itself is separate)."""
    if not board.votes:
        return (f"**No votes yet** ({board.battles} battle(s) saved). Battle and vote above: the leaderboard fills "
                "in from everyone's votes.")
    a = board.agreement
    if a.n:
        kappa = ("kappa undefined (one verdict throughout)" if a.kappa is None else
                 f"Cohen's kappa {a.kappa:.2f}" + (f" [{a.kappa_low:.2f}, {a.kappa_high:.2f}]"
                                                   if a.kappa_low is not None else ""))
        agreement = (f"The judge (`{as_text(board.judge)}`) agrees with the crowd on **{100 * a.agreement:.0f}%** "
                     f"[{100 * a.agreement_low:.0f}-{100 * a.agreement_high:.0f}%] of {a.n} battles; {kappa}.")
    else:
        agreement = "The judge has no verdict yet on a voted battle, so its agreement with the crowd is not known."
    few = (f"\n\n*Few votes:* with {board.votes} vote(s), the intervals understate the uncertainty (resampling can "
           "only reshuffle the battles there are); read the ratings as a first look." if board.votes < FEW_VOTES
           else "")
    return (f"**{board.votes} vote(s)** on {board.battles} battle(s) ({board.both_bad} 'both are bad'); the judge "
            f"ranked {board.judged} of them. {agreement}{few}\n\n"
            "**What the numbers mean.** A rating is a Bradley-Terry strength on the arena scale: the pool's average "
            "model is 1000, and a lead of 100 points means winning about 64% of battles against the other model "
            "(200 points: 76%). The 95% interval is how far the rating moves when the battles are resampled: two "
            "models whose intervals overlap are not shown apart by these votes. Win rate counts ties as half a "
            "win. The judge's columns rank the same battles by the judge's verdicts instead of people's; where "
            "the two orders differ, the judge is not judging as people do.\n\n"
            f"*Method:* {METHOD}" + "".join(f"\n\n*Note:* {as_text(n)}" for n in board.notices))


def leaderboard_text(board: Leaderboard) -> str:
    """The leaderboard for a terminal: the counts and the agreement, then the table in aligned columns."""
    rows = [TABLE_HEADERS, *([str(v) for v in row] for row in table_rows(board))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_HEADERS))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in rows]
    a = board.agreement
    agreement = (f"judge-crowd agreement {a.agreement:.0%} [{a.agreement_low:.0%}-{a.agreement_high:.0%}] on {a.n} "
                 f"battles; kappa {'undefined' if a.kappa is None else f'{a.kappa:.2f}'}" if a.n else
                 "no judged votes yet")
    return "\n".join([f"{board.votes} votes on {board.battles} battles; {agreement}", *lines, *board.notices])


def export_leaderboard(board: Leaderboard, kind: str, folder: str | Path) -> Path:
    """The leaderboard as `kind` (csv, json, html) in `folder`, named with the time; written whole or not at all."""
    if kind not in EXPORTS:
        raise ValueError(f"export kind must be one of {', '.join(EXPORTS)}, got {kind!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = export_text(board, kind)
    path = folder / f"arena-leaderboard-{now_iso().replace(':', '')}.{kind}"
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def export_text(board: Leaderboard, kind: str) -> str:
    """The leaderboard as a CSV, JSON or HTML file's text."""
    if kind not in EXPORTS:
        raise ValueError(f"export kind must be one of {', '.join(EXPORTS)}, got {kind!r}")
    return {"csv": to_csv, "json": lambda b: json.dumps(to_dict(b), indent=2, ensure_ascii=False),
            "html": html_report}[kind](board)


def html_report(board: Leaderboard) -> str:
    """One offline page: the headline, the table, the method; every value escaped."""
    def cell(value, tag: str = "td") -> str:
        return f"<{tag}>{html.escape(str(value))}</{tag}>"

    head = "".join(cell(h, "th") for h in TABLE_HEADERS)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in table_rows(board))
    a = board.agreement
    agreement = (f"Judge-crowd agreement {100 * a.agreement:.0f}% [{100 * a.agreement_low:.0f}-"
                 f"{100 * a.agreement_high:.0f}%] on {a.n} battles; Cohen's kappa "
                 f"{'undefined' if a.kappa is None else f'{a.kappa:.2f}'}" if a.n else "No judged votes yet.")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Arena leaderboard</title>"
            "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{padding:.3em .8em;"
            "border-bottom:1px solid #ddd;text-align:left}</style></head><body><h1>Arena leaderboard</h1>"
            f"<p>{html.escape(f'{board.votes} votes on {board.battles} battles; judge: {board.judge or chr(8211)}')}"
            f"</p><p>{html.escape(agreement)}</p><table><tr>{head}</tr>{body}</table>"
            f"<p>{html.escape(METHOD)}</p><p><small>{html.escape(now_iso())}</small></p></body></html>")


def linked_run(name: str) -> Run:
    """The run a link names (?run=NAME): a folder name only, never a path, looked up in the results folder and then
    among the arena judge's runs (a battle's reveal links to its judge's run)."""
    text = (name or "").strip()
    if RUN_NAME.fullmatch(text):
        for folder in (results_dir() / text, arena_dir() / JUDGE_RUNS / text):
            if (folder / "run.json").is_file():
                return load_run(folder)
    raise ArenaError(f"no run {text[:60]!r} here: a run link names a run folder (as the Results tab lists them)")
