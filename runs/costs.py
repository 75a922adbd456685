"""Token counts and cost: a price table (data: prompts/prices.yaml) turned into an estimate before a run and the
actual cost after it, from the tokens each record's served models reported."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from basics import PROMPTS_DIR, UserFacingError
from models.endpoints import split_endpoint_spec
from models.spec import parse_model_spec

DEFAULT_PRICES = PROMPTS_DIR / "prices.yaml"
CHARS_PER_TOKEN = 4  # the estimate's tokenizer: about four characters per token for English text
CHAT_OVERHEAD_TOKENS = 12  # role markers a chat template adds around a message


@dataclass(frozen=True)
class Price:
    input: float  # dollars per million input tokens
    output: float


def load_price_table(path: str | Path | None = None) -> dict[str, Price]:
    """{model name or 'prefix*': Price}; a clear error naming the file and the entry that is wrong."""
    path = Path(path) if path else DEFAULT_PRICES
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserFacingError(f"price table {str(path)!r} cannot be read ({exc}): give a YAML file like "
                              f"{DEFAULT_PRICES.name}") from exc
    table = {}
    for name, entry in (data.get("models") or {}).items():
        try:
            table[str(name)] = Price(float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError):
            raise UserFacingError(f"price table {str(path)!r}: entry {name!r} needs numbers 'input' and 'output' "
                                  "(dollars per million tokens)") from None
    return table


def price_of(spec: str, table: dict[str, Price]) -> Price | None:
    """The price of a served model spec (exact name first, then the longest matching 'prefix*'); None for local
    models and for served models the table does not know."""
    if parse_model_spec(spec).backend != "openai":
        return None
    model, _ = split_endpoint_spec(spec)
    if model in table:
        return table[model]
    prefixes = [k for k in table if k.endswith("*") and model.startswith(k[:-1])]
    return table[max(prefixes, key=len)] if prefixes else None


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + CHAT_OVERHEAD_TOKENS


def estimate_run_tokens(config, template_text: str, prompts: list[str]) -> dict[str, dict[str, int]]:
    """Upper-bound tokens per role ("A", "B", each judge spec) of a run: every answer at its length limit."""
    answers = len(config.sampling_plan())
    answer_out = config.sampling.max_new_tokens
    judge_calls = 2 if config.mode == "single" or config.swap else 1
    shown = 1 if config.mode == "single" else 2  # answers the judge reads per call
    usage = {"A": {"input": 0, "output": 0}, "B": {"input": 0, "output": 0}}
    for spec in config.judges:
        usage[spec] = {"input": 0, "output": 0}
    for prompt in prompts:
        for side in ("A", "B"):
            usage[side]["input"] += answers * estimate_tokens(prompt)
            usage[side]["output"] += answers * answer_out
        judge_in = estimate_tokens(template_text + prompt) + shown * answer_out
        for spec in config.judges:
            usage[spec]["input"] += answers * judge_calls * judge_in
            usage[spec]["output"] += answers * judge_calls * config.judge_sampling.max_new_tokens
    return usage


def cost_of(usage: dict[str, dict], config, table: dict[str, Price]) -> dict:
    """{"by_role": {role: {input, output, dollars}}, "dollars": total or None when no served model is priced,
    "unpriced": served models missing from the table}."""
    specs = {"A": config.model_a, "B": config.model_b, **{s: s for s in config.judges}}
    by_role, total, unpriced = {}, 0.0, []
    for role, tokens in usage.items():
        spec = specs.get(role, role)
        price = price_of(spec, table)
        dollars = None if price is None else (tokens["input"] * price.input + tokens["output"] * price.output) / 1e6
        if price is None and parse_model_spec(spec).backend == "openai":
            unpriced.append(spec)
        by_role[role] = {**tokens, "dollars": None if dollars is None else round(dollars, 6)}
        total += dollars or 0.0
    priced = any(v["dollars"] is not None for v in by_role.values())
    return {"by_role": by_role, "dollars": round(total, 6) if priced else None, "unpriced": unpriced}


def estimate_cost(config, items) -> dict:
    """The cost of a run before it starts: upper-bound tokens priced by the config's price table."""
    template = config.resolve_template().to_yaml()
    usage = estimate_run_tokens(config, template, [item.prompt for item in items])
    return cost_of(usage, config, load_price_table(config.prices))


def actual_cost(records: list[dict], config) -> dict:
    """The cost of a run's records, from the tokens its served models reported."""
    return cost_of(run_usage(records, config), config, load_price_table(config.prices))


def run_usage(records: list[dict], config) -> dict[str, dict[str, int]]:
    """Tokens per role as the records report them (a panel's judge tokens are summed under the first judge)."""
    usage = {"A": {"input": 0, "output": 0}, "B": {"input": 0, "output": 0}, config.judge: {"input": 0, "output": 0}}
    for record in records:
        for side in ("A", "B"):
            side_usage = (record.get("usage") or {}).get(side) or {}
            usage[side]["input"] += side_usage.get("input") or 0
            usage[side]["output"] += side_usage.get("output") or 0
        judge = (record.get("usage") or {}).get("judge") or {}
        usage[config.judge]["input"] += judge.get("input") or 0
        usage[config.judge]["output"] += judge.get("output") or 0
    return usage


def cost_line(cost: dict, label: str) -> str:
    """One line for the CLI and the Batch tab, e.g. 'estimated cost (upper bound): $0.0123 (judge gpt-4o ...)'."""
    if cost["dollars"] is None:
        missing = f"; not in the price table: {', '.join(cost['unpriced'])}" if cost["unpriced"] else ""
        return f"{label}: no priced served model{missing}"
    parts = [f"{role} ${v['dollars']:.4f} ({v['input']:,} in / {v['output']:,} out)"
             for role, v in cost["by_role"].items() if v["dollars"] is not None]
    return f"{label}: ${cost['dollars']:.4f}: " + "; ".join(parts)
