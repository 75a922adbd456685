"""The values the app's API endpoints are sent, checked before use: Gradio passes most of them on as sent, so a
hand-made call can put a number where text goes, null, NaN, infinity or a list; each becomes a message naming the
field and what it takes, instead of a bare "Error" on the page and a traceback in the server's log."""
from __future__ import annotations

import math

from basics import UserFacingError


def _sent(value) -> str:
    text = str(value)
    return f"{type(value).__name__} {text[:40] + ('…' if len(text) > 40 else '')!r}"


def checked_text(value, name: str) -> str:
    """Text as sent; null is empty text."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserFacingError(f"{name} must be text, got {_sent(value)}")
    return value


def checked_texts(value, name: str) -> list[str]:
    """A multi-pick's texts; null is none picked, and one text alone is a pick of one (never read letter by
    letter as a list of one-letter picks)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UserFacingError(f"{name} must be a list of texts, got {_sent(value)}")
    return value


def checked_number(value, name: str, whole: bool = False, default: float | None = None):
    """A finite number (an int when `whole`); null is `default` where there is one."""
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserFacingError(f"{name} must be a number, got {_sent(value)}")
    if not math.isfinite(value):  # NaN passes a range check written as `x < low or x > high`
        raise UserFacingError(f"{name} must be a finite number, got {value}")
    if whole:
        if value != int(value):
            raise UserFacingError(f"{name} must be a whole number, got {value}")
        return int(value)
    return float(value)


def checked_flag(value, name: str, default: bool) -> bool:
    """true or false; null is `default`. A text such as "false" is refused, not read as true."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise UserFacingError(f"{name} must be true or false, got {_sent(value)}")
    return value


def checked_choice(value, name: str, choices, default: str | None = None) -> str:
    """One of `choices` (a radio's or a picker's fixed values); null is `default` where there is one."""
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or value not in choices:
        raise UserFacingError(f"{name} must be one of {', '.join(choices)}, got {_sent(value)}")
    return value
