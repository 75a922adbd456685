"""Sampling settings for answer generation and the judge, and the study's named presets."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from models.errors import SettingsError

# The widest seed any backend here takes (torch's manual_seed: 64 bits); each backend declares its own narrower range
# (Backend.seed_range), checked once the models are loaded.
MAX_SEED = 2**64 - 1


@dataclass(frozen=True)
class SamplingSettings:
    """How a model samples. temperature 0 means greedy decoding (deterministic)."""

    temperature: float = field(default=0.5, metadata={"help": "0 = greedy; higher = more random"})
    min_p: float = field(default=0.05, metadata={"help": "drop tokens below min_p x the top token's probability"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling mass; 1.0 disables it"})
    max_new_tokens: int = field(default=256, metadata={"help": "upper bound on generated tokens"})
    seed: int = field(default=0, metadata={"help": "same seed + settings + backend = same answer"})

    def __post_init__(self) -> None:
        checks = [
            (0.0 <= self.temperature <= 5.0, f"temperature must be between 0 and 5, got {self.temperature}"),
            (0.0 <= self.min_p < 1.0, f"min_p must be in [0, 1), got {self.min_p}"),
            (0.0 < self.top_p <= 1.0, f"top_p must be in (0, 1], got {self.top_p}"),
            (1 <= self.max_new_tokens <= 8192, f"max_new_tokens must be 1..8192, got {self.max_new_tokens}"),
            (isinstance(self.seed, int) and 0 <= self.seed <= MAX_SEED,
             f"seed must be a whole number from 0 to {MAX_SEED} (64 bits), got {self.seed}"),
        ]
        for ok, message in checks:
            if not ok:
                raise SettingsError(message)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def with_(self, **changes) -> SamplingSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)


# The study this product follows compared a cautious and an adventurous sampling setting.
PRESETS: dict[str, SamplingSettings] = {
    "p1": SamplingSettings(temperature=0.5, min_p=0.05),
    "p2": SamplingSettings(temperature=1.5, min_p=0.1),
}
DEFAULT_PRESET = "p1"

# The judge decodes greedily so that the same answers always get the same verdict.
DEFAULT_JUDGE_SETTINGS = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=160)


def preset_settings(name: str, **overrides) -> SamplingSettings:
    """The named preset, with any non-None overrides applied."""
    if name not in PRESETS:
        raise SettingsError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    return replace(PRESETS[name], **changes)


def matching_preset(name: str | None, settings: SamplingSettings) -> str | None:
    """`name` if `settings` sample the way that preset does (length, seed and top_p may differ), else None."""
    if name not in PRESETS:
        return None
    preset = PRESETS[name].with_(max_new_tokens=settings.max_new_tokens, seed=settings.seed, top_p=settings.top_p)
    return name if preset == settings else None
