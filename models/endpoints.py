"""Served models (OpenAI chat-completions protocol): `openai:` spec strings, base URLs, the API key and the request
limits, all from one place. The key is read from the environment on each connection and never enters a spec, a
manifest, a record, a log line or an error message.

Environment:
- LLM_JUDGE_BASE_URL (else OPENAI_BASE_URL): the base URL of `openai:MODEL` specs that name none.
- LLM_JUDGE_API_KEY (else OPENAI_API_KEY; for Hugging Face hosts, else HF_TOKEN): the bearer key.
- LLM_JUDGE_CONCURRENCY: requests in flight per endpoint (default 8).
- LLM_JUDGE_TIMEOUT: seconds to wait for a reply's next bytes (default 120); LLM_JUDGE_CONNECT_TIMEOUT (default 10).
- LLM_JUDGE_RETRIES: retries of a failed request (429, 5xx, dropped connection), with backoff (default 3).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from models.errors import ModelSpecError, UserFacingError

ENDPOINT_PREFIX = "openai:"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_VARIABLES = ("LLM_JUDGE_BASE_URL", "OPENAI_BASE_URL")
API_KEY_VARIABLES = ("LLM_JUDGE_API_KEY", "OPENAI_API_KEY")
HF_TOKEN_VARIABLE = "HF_TOKEN"
NO_KEY = "no-key"  # the openai client insists on some key; local servers without --api-key ignore it


class EndpointError(UserFacingError):
    """A request to a served model failed after its retries: it fails one record, not the run."""


# The largest value each variable takes: a day's wait, a hundred retries, a thousand requests in flight.
ENV_BOUNDS = {"LLM_JUDGE_TIMEOUT": 86400, "LLM_JUDGE_CONNECT_TIMEOUT": 86400, "LLM_JUDGE_RETRIES": 100,
              "LLM_JUDGE_CONCURRENCY": 1000}


@dataclass(frozen=True)
class EndpointLimits:
    """How long to wait and how often to retry, and how many requests one endpoint may have in flight."""

    read_timeout: float = 120.0
    connect_timeout: float = 10.0
    retries: int = 3
    concurrency: int = 8

    @classmethod
    def from_environment(cls) -> EndpointLimits:
        def number(name: str, default, kind):
            raw = os.environ.get(name, "").strip()
            low, high = (0 if name == "LLM_JUDGE_RETRIES" else 1e-3), ENV_BOUNDS[name]
            try:
                value = kind(raw) if raw else default
            except ValueError:
                raise UserFacingError(f"${name} must be a number from {low:g} to {high:g}, got {raw[:40]!r}") from None
            # NaN passes every comparison but this one; an infinite timeout or a 10^23 retries count is never meant
            if not low <= value <= high:
                raise UserFacingError(f"${name} must be a number from {low:g} to {high:g}, got {raw[:40]!r}")
            return value

        return cls(read_timeout=number("LLM_JUDGE_TIMEOUT", cls.read_timeout, float),
                   connect_timeout=number("LLM_JUDGE_CONNECT_TIMEOUT", cls.connect_timeout, float),
                   retries=number("LLM_JUDGE_RETRIES", cls.retries, int),
                   concurrency=number("LLM_JUDGE_CONCURRENCY", cls.concurrency, int))


def default_base_url() -> str:
    for name in BASE_URL_VARIABLES:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    return DEFAULT_BASE_URL


def check_base_url(url: str) -> str:
    """`url` without a trailing slash; a clear error for a URL that is not http(s) or that carries credentials."""
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # urlsplit refuses some hosts, e.g. an unclosed '[' of an IPv6 address
        raise ModelSpecError(f"base URL {url!r} cannot be read ({exc}): write it like http://127.0.0.1:8000/v1") \
            from exc
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelSpecError(f"base URL {url!r} is not an http(s) URL: write it like http://127.0.0.1:8000/v1")
    if parts.username or parts.password or parts.query:
        # Such a URL would be written into run.json and every record: keys belong in the environment only.
        raise ModelSpecError("a base URL must not carry credentials or a query string: remove them and put the key "
                             f"in ${API_KEY_VARIABLES[0]}")
    return url


def split_endpoint_spec(text: str) -> tuple[str, str | None]:
    """(model, base URL or None) of `openai:MODEL` / `openai:MODEL@URL`."""
    body = text.strip()[len(ENDPOINT_PREFIX):]
    model, url = body, None
    at = body.rfind("@http")
    if at >= 0:
        model, url = body[:at], body[at + 1:]
    model = model.strip()
    if not model:
        raise ModelSpecError("an endpoint spec needs the served model's name: write openai:MODEL or "
                             "openai:MODEL@http://host:port/v1")
    return model, url


def endpoint_spec_text(text: str, base_url: str | None = None) -> str:
    """The canonical `openai:MODEL@URL`: the spec's own URL, else `base_url`, else the environment's default."""
    model, url = split_endpoint_spec(text)
    return f"{ENDPOINT_PREFIX}{model}@{check_base_url(url or base_url or default_base_url())}"


def with_base_url(spec: str, base_url: str | None) -> str:
    """`spec` with `base_url` filled in where it is an endpoint spec naming no URL (the CLI's --base-url, the app's
    base URL box); every other spec unchanged."""
    spec = (spec or "").strip()
    if not base_url or not base_url.strip() or not spec.startswith(ENDPOINT_PREFIX):
        return spec
    if split_endpoint_spec(spec)[1] is not None:
        return spec
    return endpoint_spec_text(spec, base_url.strip())


def api_key_for(base_url: str) -> tuple[str, str | None]:
    """(key, the variable it came from); NO_KEY and None where none is set."""
    names = list(API_KEY_VARIABLES)
    if "huggingface.co" in urlsplit(base_url).netloc:
        names.append(HF_TOKEN_VARIABLE)
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            bad = next((i for i, ch in enumerate(value, 1) if not (ch.isascii() and ch.isprintable())), None)
            if bad is not None:  # a header cannot carry it; the key itself is never shown
                raise UserFacingError(f"${name} holds a character a request header cannot carry (character {bad} of "
                                      f"{len(value)}: a line break, a control character or a letter outside ASCII): "
                                      "copy the key again and set it without that character")
            return value, name
    return NO_KEY, None


def redact(message: str, base_url: str) -> str:
    """`message` with the endpoint's key (if any appears in it) replaced: servers may echo request headers."""
    key, _ = api_key_for(base_url)
    return message.replace(key, "[key]") if key != NO_KEY and len(key) >= 4 else message
