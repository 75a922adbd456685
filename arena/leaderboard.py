"""The arena's leaderboard: Bradley-Terry ratings with bootstrap 95% intervals from the crowd's votes and from the
judge's verdicts on the same battles, side by side; each model's battles and win rate; the judge's agreement with
the crowd and Cohen's kappa, with their intervals. Pure functions over the store's battles.

Ties and "both are bad" are handled as FastChat's arena does: a tie is half a win to each model in the fit, and
"both are bad" is a tie (neither answer is better).
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field

from analysis.agreement import VOTE_AS_VERDICT, AgreementCI, agreement_with_ci
from analysis.ranking import ModelScore, bradley_terry_with_ci
from arena.store import BattleState

# Ratings on the arena scale people know from Chatbot Arena: 1000 + 400 log10(strength). The strengths have geometric
# mean 1, so the pool's average model sits at 1000, and 100 points more means winning 64% of the time against it.
RATING_BASE, RATING_SCALE = 1000.0, 400.0
RESAMPLES = 1000


def rating(strength: float) -> float:
    return RATING_BASE + RATING_SCALE * math.log10(strength)


def comparison(model_a: str, model_b: str, outcome: str) -> tuple:
    """A battle's outcome ("A", "B", "tie", "both_bad") as a Bradley-Terry comparison: (winner, loser) or a tie."""
    outcome = VOTE_AS_VERDICT.get(outcome, outcome)
    if outcome == "A":
        return model_a, model_b
    if outcome == "B":
        return model_b, model_a
    if outcome == "tie":
        return model_a, model_b, "tie"
    raise ValueError(f"unknown outcome {outcome!r}")


def voted(states: list[BattleState]) -> list[BattleState]:
    return [s for s in states if s.vote is not None and s.battle["model_a"] != s.battle["model_b"]]


def judged_and_voted(states: list[BattleState]) -> list[BattleState]:
    """The battles the judge is measured on: voted ones it reached a verdict on (an unparsed or failed verdict is
    not a tie, so it is left out, not counted)."""
    return [s for s in voted(states) if s.judged and s.judged.get("winner") in ("A", "B", "tie")]


def crowd_comparisons(states: list[BattleState]) -> list[tuple]:
    return [comparison(s.battle["model_a"], s.battle["model_b"], s.vote["vote"]) for s in voted(states)]


def judge_comparisons(states: list[BattleState]) -> list[tuple]:
    return [comparison(s.battle["model_a"], s.battle["model_b"], s.judged["winner"])
            for s in judged_and_voted(states)]


@dataclass
class Side:
    """One rater's view of one model: its battles, wins / ties / losses, win rate (ties half) and rating."""

    battles: int = 0
    wins: int = 0
    ties: int = 0
    losses: int = 0
    rating: float | None = None
    low: float | None = None
    high: float | None = None
    strength: float | None = None

    @property
    def win_rate(self) -> float | None:
        return (self.wins + self.ties / 2) / self.battles if self.battles else None


@dataclass
class ModelRow:
    model: str
    crowd: Side
    judge: Side


@dataclass
class Leaderboard:
    rows: list[ModelRow]  # by crowd rating, highest first
    battles: int  # every battle saved
    votes: int  # battles with a vote
    judged: int  # voted battles with a judge verdict: what the judge's column and the agreement read
    both_bad: int  # votes of "both are bad" (counted as ties)
    judge: str  # the judge's spec(s) on those battles
    agreement: AgreementCI
    notices: list[str] = field(default_factory=list)


def _sides(comparisons: list[tuple], models: list[str], seed: int, resamples: int) -> dict[str, Side]:
    sides = {m: Side() for m in models}
    for c in comparisons:
        for model in c[:2]:
            sides[model].battles += 1
        if len(c) == 3:
            sides[c[0]].ties += 1
            sides[c[1]].ties += 1
        else:
            sides[c[0]].wins += 1
            sides[c[1]].losses += 1
    if comparisons:
        ranking = bradley_terry_with_ci(comparisons, seed=seed, resamples=resamples)
        for model, score in ranking.models.items():
            _rate(sides[model], score)
    return sides


def _rate(side: Side, score: ModelScore) -> None:
    side.strength, side.rating = score.score, rating(score.score)
    side.low, side.high = rating(score.low), rating(score.high)


def build_leaderboard(states: list[BattleState], seed: int = 0, resamples: int = RESAMPLES,
                      notices: list[str] | None = None) -> Leaderboard:
    """The leaderboard of every battle so far (deterministic for a seed: the same battles give the same page)."""
    crowd = crowd_comparisons(states)
    judge = judge_comparisons(states)
    models = sorted({m for c in crowd for m in c[:2]})
    crowd_sides = _sides(crowd, models, seed, resamples)
    judge_sides = _sides(judge, models, seed, resamples)
    rows = [ModelRow(m, crowd_sides[m], judge_sides[m]) for m in models]
    rows.sort(key=lambda r: (-(r.crowd.rating or 0), r.model))
    both = judged_and_voted(states)
    agreement = agreement_with_ci([VOTE_AS_VERDICT[s.vote["vote"]] for s in both],
                                  [s.judged["winner"] for s in both], seed=seed, resamples=2000)
    judges = sorted({str(s.judged.get("judge")) for s in both})
    return Leaderboard(rows=rows, battles=len(states), votes=len(voted(states)), judged=len(both),
                       both_bad=sum(s.vote["vote"] == "both_bad" for s in voted(states)),
                       judge=" / ".join(judges), agreement=agreement, notices=list(notices or []))


TABLE_HEADERS = ["Model", "Battles", "Crowd rating", "Crowd 95% CI", "Crowd win rate", "Judge rating",
                 "Judge 95% CI", "Judge win rate", "Judged battles"]


def _number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _interval(side: Side) -> str:
    return "–" if side.low is None else f"{side.low:.0f} – {side.high:.0f}"


def table_rows(board: Leaderboard) -> list[list]:
    """The page's table: one row per model, the crowd's columns then the judge's."""
    return [[r.model, r.crowd.battles, _number(r.crowd.rating), _interval(r.crowd), _percent(r.crowd.win_rate),
             _number(r.judge.rating), _interval(r.judge), _percent(r.judge.win_rate), r.judge.battles]
            for r in board.rows]


def to_dict(board: Leaderboard) -> dict:
    """The leaderboard as JSON: every number unrounded, with what the numbers mean."""
    def side(s: Side) -> dict:
        return {**asdict(s), "win_rate": s.win_rate}

    return {"battles": board.battles, "votes": board.votes, "judged": board.judged, "both_bad": board.both_bad,
            "judge": board.judge, "agreement": board.agreement.to_dict(),
            "models": [{"model": r.model, "crowd": side(r.crowd), "judge": side(r.judge)} for r in board.rows],
            "method": METHOD, "notices": board.notices}


def to_csv(board: Leaderboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["model", "rater", "battles", "wins", "ties", "losses", "win_rate", "rating", "rating_low",
                     "rating_high", "strength"])
    for row in board.rows:
        for rater, s in (("crowd", row.crowd), ("judge", row.judge)):
            writer.writerow([row.model, rater, s.battles, s.wins, s.ties, s.losses, s.win_rate, s.rating, s.low,
                             s.high, s.strength])
    return out.getvalue()


METHOD = ("Bradley-Terry ratings (Hunter's MM fit, half a pseudo-win each way between every two models) on the "
          "scale 1000 + 400 log10(strength), with 95% percentile intervals from resampling the battles "
          f"{RESAMPLES} times. A tie counts half a win to each model and a 'both are bad' vote is a tie, as in "
          "FastChat's arena. The judge's ratings use the same battles the crowd voted on, where the judge reached a "
          "verdict. Agreement: the share of those battles where the judge's verdict is the crowd's (both bad = "
          "tie), with Wilson's 95% interval; Cohen's kappa with a bootstrap 95% interval.")
