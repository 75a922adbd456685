"""A judge's rubric: the criteria it scores and their scale. Every view of scores reads it from here, never assumes.

A rubric may have one criterion (Prometheus 2's absolute grading: one overall score; a reward model's `preference`)
or none (its relative grading, which names the better answer and gives no scores): views show those as they are, never
as invented criteria. A reward model's criterion carries its `mapping`, how its raw reward became a score on the scale,
and every view that describes the rubric states it.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CRITERIA = ("relevance", "coherence", "completeness")
DEFAULT_SCALE = (1, 4)


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[str, ...] = DEFAULT_CRITERIA
    scale: tuple[int, int] = DEFAULT_SCALE
    mapping: str = ""  # e.g. "preference = 1 + 3·sigmoid(r), r the reward model's raw reward" (judge/rewards.py)

    @property
    def low(self) -> int:
        return self.scale[0]

    @property
    def high(self) -> int:
        return self.scale[1]

    @property
    def max_total(self) -> int:
        return self.high * len(self.criteria)

    @property
    def min_total(self) -> int:
        return self.low * len(self.criteria)

    @property
    def scored(self) -> bool:
        """False for a verdict-only judge: it names the better answer and gives no scores."""
        return bool(self.criteria)

    def describe(self) -> str:
        """'relevance, coherence and completeness (1-4 each, total of 12)'; 'overall (1-5)' for one criterion."""
        names = list(self.criteria)
        if not names:
            return "no scores (the judge names the better answer)"
        mapped = f"; {self.mapping}" if self.mapping else ""
        if len(names) == 1:
            return f"{names[0]} ({self.low}-{self.high}{mapped})"
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        return f"{listed} ({self.low}-{self.high} each, total of {self.max_total}{mapped})"

    def to_dict(self) -> dict:
        data = {"criteria": list(self.criteria), "scale": list(self.scale)}
        return {**data, "mapping": self.mapping} if self.mapping else data  # older records have none

    @classmethod
    def from_dict(cls, data: dict | None) -> Rubric:
        if not data:
            return cls()
        criteria = data.get("criteria")  # [] is a verdict-only rubric, not a missing one
        return cls(tuple(DEFAULT_CRITERIA if criteria is None else criteria), tuple(data.get("scale") or DEFAULT_SCALE),
                   str(data.get("mapping") or ""))


DEFAULT_RUBRIC = Rubric()
