"""`python -m arena`: check a pool file before a Space starts with it, and print or export the leaderboard of an
arena folder. Bad input is one line on stderr and exit status 2, as for `python -m judge`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arena.config import arena_dir, check_public_pool, load_arena_config
from arena.leaderboard import build_leaderboard
from arena.store import EVENTS_FILE, ArenaStore
from arena.views import EXPORTS, export_text, leaderboard_text
from basics import UserFacingError, write_atomic
from runs.public import load_public_policy


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m arena", description="The arena's pool and leaderboard.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a pool file (and, with --public, against the allow-list)")
    check.add_argument("--pool", help="the pool YAML (default: $LLM_JUDGE_ARENA_POOL or prompts/arena/pool.yaml)")
    check.add_argument("--public", action="store_true", help="also apply public mode's allow-list and limits")
    board = commands.add_parser("leaderboard", help="print the leaderboard of an arena folder, or export it")
    board.add_argument("--dir", help="the arena folder (default: $LLM_JUDGE_ARENA_DIR, else results/arena)")
    board.add_argument("--out", help="write it to this file instead: .csv, .json or .html")
    board.add_argument("--seed", type=int, default=0, help="the bootstrap's seed (the same seed, the same numbers)")
    return parser


def check_pool(args) -> str:
    config = load_arena_config(args.pool)
    if args.public:
        check_public_pool(load_public_policy(), config)
    pairs = len(config.pairs())
    return (f"{config.source}: {len(config.models)} models ({pairs} pairs), judge {config.judge}, prompts "
            f"{config.prompts}" + (" (fits the public allow-list)" if args.public else ""))


def leaderboard(args) -> str:
    folder = Path(args.dir) if args.dir else arena_dir()
    if not (folder / EVENTS_FILE).is_file():
        raise UserFacingError(f"{folder} holds no {EVENTS_FILE}: name an arena folder with --dir")
    out = Path(args.out) if args.out else None
    kind = out.suffix.lstrip(".").lower() if out else None
    if out and kind not in EXPORTS:
        raise UserFacingError(f"--out {out}: name a .csv, .json or .html file")
    store = ArenaStore.open(folder, repair=False)
    board = build_leaderboard(store.states(), seed=args.seed, notices=store.notices)
    if out:
        text = export_text(board, kind)
        write_atomic(out, lambda f: f.write(text.encode("utf-8")))
        return str(out)
    return leaderboard_text(board)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        print(check_pool(args) if args.command == "check" else leaderboard(args))
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # --out in a folder that does not exist or cannot be written
        print(f"error: cannot write {args.out}: {exc.strerror or exc}; pick a writable path", file=sys.stderr)
        return 2
    return 0
