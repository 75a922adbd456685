"""Grammar-constrained judge replies from the transformers backend, per constraint library, against unconstrained
generation of the same number of tokens.

The judge is the embedded "smollm2-135m" (transformers, CPU float32); the grammar is the default template's
output_format compiled to GBNF (judge/output_format.py), single or pairwise. For each study prompt the model's
own greedy answer is judged. Each library's logits processor is passed to one model.generate() call per reply
(greedy, --max-new-tokens); the unconstrained twin is a model.generate() of exactly the tokens the constrained
reply took (min_new_tokens = max_new_tokens), so the difference is the constraint's own cost per reply. Rows:

  llguidance             models/constrained.py as TransformersBackend.score uses it (a line break the grammar
                         refuses ends a complete reply)
  llguidance, plain      the same mask without that line-break rule: comparable token for token with the next
  xgrammar               xgrammar.contrib.hf.LogitsProcessor on Grammar.from_ebnf(the same GBNF)
  transformers-cfg       GrammarConstrainedLogitsProcessor on the same GBNF

Token counts differ between libraries: llguidance writes the grammar's fixed text ("Relevance: ") in the
tokenizer's own tokenization, while xgrammar lets the model spell it in any pieces ("Re" "lev" "anc"...),
which the model then continues differently (and, in pairwise replies, at greater length).

A library that is not installed or fails on this model says so in its row (only llguidance is a requirement:
`pip install xgrammar transformers-cfg` to compare). "setup s" is building the library's view of the
tokenizer plus compiling the grammar, paid once per loaded model. The machine's load average is printed too,
since a busy shared CPU skews every number here.

Usage: python benchmarks/constrained_generation.py [--mode single] [--prompts 5] [--max-new-tokens 160]
       [--threads 1] [--libraries llguidance,llguidance-plain,xgrammar,transformers-cfg]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.output_format import Choice, Literal, format_segments, output_grammar  # noqa: E402
from judge.templates import default_template  # noqa: E402
from models import SamplingSettings, load_model  # noqa: E402
from runs.prompt_sets import load_prompt_set  # noqa: E402

LIBRARIES = ("llguidance", "llguidance-plain", "xgrammar", "transformers-cfg")
ANSWER = SamplingSettings(temperature=0.0, min_p=0.0, max_new_tokens=48)


def llguidance_factory(backend, gbnf: str, fold_line_breaks: bool):
    import torch

    from models.constrained import GrammarLogitsProcessor, TokenizerGrammars

    grammars = TokenizerGrammars(backend.tokenizer, backend._eos_ids())
    grammars.processor(gbnf)  # compiles and caches the grammar: part of the setup time
    if fold_line_breaks:
        return lambda: grammars.processor(gbnf)
    no_breaks = torch.zeros_like(grammars.line_breaks)
    return lambda: GrammarLogitsProcessor(grammars.processor(gbnf).matcher, grammars.end_id, no_breaks)


def xgrammar_factory(backend, gbnf: str):
    import xgrammar as xgr
    import xgrammar.contrib.hf

    info = xgr.TokenizerInfo.from_huggingface(backend.tokenizer, vocab_size=backend.model.config.vocab_size,
                                              stop_token_ids=sorted(backend._eos_ids()))
    compiled = xgr.GrammarCompiler(info).compile_grammar(xgr.Grammar.from_ebnf(gbnf))
    return lambda: xgrammar.contrib.hf.LogitsProcessor(compiled)


def transformers_cfg_factory(backend, gbnf: str):
    from transformers_cfg.generation.logits_process import GrammarConstrainedLogitsProcessor
    from transformers_cfg.grammar_utils import IncrementalGrammarConstraint

    constraint = IncrementalGrammarConstraint(gbnf, "root", backend.tokenizer)
    return lambda: GrammarConstrainedLogitsProcessor(constraint)


FACTORIES = {
    "llguidance": lambda backend, gbnf: llguidance_factory(backend, gbnf, fold_line_breaks=True),
    "llguidance-plain": lambda backend, gbnf: llguidance_factory(backend, gbnf, fold_line_breaks=False),
    "xgrammar": xgrammar_factory,
    "transformers-cfg": transformers_cfg_factory,
}


def generate(backend, inputs: dict, max_new_tokens: int, processor=None, exact: bool = False) -> list[int]:
    """Greedy new token ids (the end-of-turn token included when the model chose it)."""
    import torch
    from transformers import LogitsProcessorList

    kwargs = dict(max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
                  min_p=None, pad_token_id=backend._pad_id())
    if processor is not None:
        kwargs["logits_processor"] = LogitsProcessorList([processor])
    if exact:
        kwargs["min_new_tokens"] = max_new_tokens
    with torch.inference_mode():
        output = backend.model.generate(**inputs, **kwargs)
    return output[0, inputs["input_ids"].shape[1]:].tolist()


def judge_conversations(backend, mode: str, n_prompts: int) -> tuple[list[list[dict]], str, str]:
    """(rendered judge conversations, the template's GBNF, the regex a whole reply must match)."""
    template = default_template(mode)
    items = load_prompt_set("study")[:n_prompts]
    answers = [backend.complete([{"role": "user", "content": i.prompt}], ANSWER).text.strip() for i in items]
    if mode == "single":
        conversations = [template.render(prompt=i.prompt, answer=a) for i, a in zip(items, answers)]
    else:  # the next prompt's answer is the rival: a plausible but off-topic answer B
        rivals = answers[1:] + answers[:1]
        conversations = [template.render(prompt=i.prompt, answer_a=a, answer_b=b)
                         for i, a, b in zip(items, answers, rivals)]
    return conversations, output_grammar(template.output_format), format_regex(template.output_format)


def format_regex(output_format: str) -> str:
    """The regex of exactly the replies the grammar accepts, from the same segments."""
    parts = []
    for segment in format_segments(output_format):
        if isinstance(segment, Literal):
            parts.append(re.escape(segment.text))
        elif isinstance(segment, Choice):
            parts.append("(?:" + "|".join(re.escape(o) for o in segment.options) + ")")
        else:
            parts.append("[^\n]+")
    return "".join(parts)


def measure(backend, factory, conversations, max_new_tokens: int, regex: str, repeats: int) -> dict:
    constrained, plain, tokens, matched = [], [], [], 0
    stops = backend._eos_ids()
    for conversation in conversations:
        inputs = backend.encode_chat(conversation)
        for _ in range(repeats):
            started = time.perf_counter()
            ids = generate(backend, inputs, max_new_tokens, processor=factory())
            constrained.append(time.perf_counter() - started)
            n = len(ids) - (1 if ids and ids[-1] in stops else 0)
            started = time.perf_counter()
            generate(backend, inputs, max(n, 1), exact=True)
            plain.append(time.perf_counter() - started)
        tokens.append(n)
        text = backend.tokenizer.decode(ids, skip_special_tokens=True)
        matched += bool(re.fullmatch(regex, text))
    return {"constrained": statistics.mean(constrained), "plain": statistics.mean(plain),
            "tokens": statistics.mean(tokens), "matched": matched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("single", "pairwise"), default="single")
    parser.add_argument("--prompts", type=int, default=5, help="study prompts judged (each one reply per library)")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="the judge's default (DEFAULT_JUDGE_SETTINGS)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 stays steady on a shared CPU (more suits a whole idle machine)")
    parser.add_argument("--repeats", type=int, default=1, help="timed replies per prompt and library (mean shown)")
    parser.add_argument("--libraries", default=",".join(LIBRARIES),
                        help="comma-separated, from: " + ", ".join(LIBRARIES))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    backend = load_model("smollm2-135m")
    conversations, gbnf, regex = judge_conversations(backend, args.mode, args.prompts)
    generate(backend, backend.encode_chat(conversations[0]), 4)  # warm-up
    load_before = os.getloadavg()

    rows = []
    for name in args.libraries.split(","):
        started = time.perf_counter()
        try:
            factory = FACTORIES[name](backend, gbnf)
            setup = time.perf_counter() - started
            rows.append((name, setup, measure(backend, factory, conversations, args.max_new_tokens, regex,
                                              args.repeats)))
        except ImportError as exc:
            rows.append((name, None, f"not installed ({exc.name})"))
        except Exception as exc:  # a library that cannot handle this tokenizer or grammar: its row says why
            rows.append((name, None, f"failed: {type(exc).__name__}: {str(exc)[:70]}"))
    load_after = os.getloadavg()

    print(f"{len(conversations)} {args.mode} judge replies of smollm2-135m (transformers, CPU), greedy, "
          f"max_new_tokens {args.max_new_tokens}, {args.threads} thread(s), mean of {args.repeats} per prompt")
    print(f"{'library':18} {'setup s':>8} {'tokens':>7} {'s/reply':>8} {'same-length unconstrained s':>28} "
          f"{'overhead':>9} {'in format':>10}")
    for name, setup, result in rows:
        if isinstance(result, str):
            print(f"{name:18} {result}")
            continue
        overhead = result["constrained"] / result["plain"] - 1
        print(f"{name:18} {setup:8.2f} {result['tokens']:7.1f} {result['constrained']:8.2f} {result['plain']:28.2f} "
              f"{overhead:8.1%} {result['matched']:>5}/{len(conversations)}")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
