"""`python -m finetune`: LoRA fine-tuning from flags, a YAML file, or `--demo`."""
from __future__ import annotations

import argparse
import sys

from basics import UserFacingError, adapters_dir, check_utf8_arguments
from finetune.config import DEMO_DATA, DEMO_STEPS, FinetuneConfig, add_config_arguments, load_config


def demo_config(**overrides) -> FinetuneConfig:
    values = dict(data=DEMO_DATA, out=str(adapters_dir() / "demo"), max_steps=DEMO_STEPS[1],
                  save_steps=list(DEMO_STEPS), gradient_accumulation_steps=1, max_seq_length=384)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return load_config(**values)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetune", description="Fine-tune a LoRA adapter.")
    parser.add_argument("--config", help="YAML file of settings (flags override it)")
    parser.add_argument("--demo", action="store_true",
                        help=f"train the two demo adapters (steps {DEMO_STEPS[0]} and {DEMO_STEPS[1]}) of the "
                             "embedded model on the shipped demo data")
    add_config_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k not in ("config", "demo")}
    try:
        check_utf8_arguments(overrides | {"config": args.config})
        config = demo_config(**overrides) if args.demo else load_config(args.config, **overrides)
        from finetune.train import train

        def report(progress):
            if progress.saved:
                print(f"saved {progress.saved} (step {progress.step}, loss {progress.loss})", file=sys.stderr)

        result = train(config, on_progress=report)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"engine {result.engine}; {result.report.summary()}; {result.seconds:.0f} s", file=sys.stderr)
    for folder in result.checkpoints:
        print(folder)
    return 0
