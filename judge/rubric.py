"""A judge's rubric: the criteria it scores and their scale. Every view of scores reads it from here, never assumes."""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CRITERIA = ("relevance", "coherence", "completeness")
DEFAULT_SCALE = (1, 4)


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[str, ...] = DEFAULT_CRITERIA
    scale: tuple[int, int] = DEFAULT_SCALE

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

    def describe(self) -> str:
        """'relevance, coherence and completeness (1-4 each, total of 12)'."""
        names = list(self.criteria)
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"{listed} ({self.low}-{self.high} each, total of {self.max_total})"

    def to_dict(self) -> dict:
        return {"criteria": list(self.criteria), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, data: dict | None) -> Rubric:
        if not data:
            return cls()
        return cls(tuple(data.get("criteria") or DEFAULT_CRITERIA), tuple(data.get("scale") or DEFAULT_SCALE))


DEFAULT_RUBRIC = Rubric()
