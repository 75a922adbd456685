"""The Arena tab: a blind battle between two models of the pool, a vote, and only then the models' names and the
judge's verdict; next battle in one click; the leaderboard refreshed live from everyone's votes. And the page's deep
links: a battle opened from ?battle=ID, a run's headline numbers from ?run=NAME."""
from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from arena.battles import Arena, open_arena
from arena.leaderboard import TABLE_HEADERS, table_rows, to_dict
from arena.views import VOTE_TEXT, export_leaderboard, leaderboard_markdown, linked_run, reveal_markdown
from basics import UserFacingError
from dashboard.summary_text import summary_markdown
from runs.one_thread import stepped_in_one_thread
from runs.public import app_concurrency, visitor_slot
from runs.views import as_text
from ui.widgets import PRIVATE, user_error, visitor

# Run in the browser at page load: a link to a battle opens on the Arena tab.
SELECT_LINKED_TAB = ("() => { if (new URLSearchParams(window.location.search).get('battle')) "
                     "document.querySelector('#tab-arena-button')?.click(); }")
VOTE_IDS = {"A": "arena-vote-a", "B": "arena-vote-b", "tie": "arena-vote-tie", "both_bad": "arena-vote-bad"}
BEFORE_VOTE = "*Read both answers, then vote: the models' names and the judge's verdict appear after your vote.*"
INTRO = ("### Arena: which answer is better?\nTwo models from the pool, drawn at random and shown as **Model A** and "
         "**Model B**, answer the same instruction. Vote for the better answer; only then are the models named, "
         "with the judge's verdict on the same two answers. Every vote goes into the leaderboard below.")
SAVED = ("*The instruction, both answers and your vote are saved with this app's arena{published}; do not type "
         "anything private.*")
LIVE_SECONDS = 20  # how often an open page refreshes the leaderboard; the judge's verdict is polled faster
REVEAL_SECONDS = 3


@dataclass
class ArenaTab:
    """What the app wires to after building the tab: the page-load link handler's outputs."""

    link_outputs: list
    board_outputs: list
    open_link: Callable  # demo.load(open_link, None, link_outputs): ?battle=ID opens that battle


def votes_on(enabled: bool) -> list:
    return [gr.Button(interactive=enabled) for _ in VOTE_IDS]


def battle(arena: Arena, prompt: str, request: gr.Request | None):
    """Stream two anonymous answers to the instruction; the battle's id comes last, and with it the vote buttons."""
    try:
        with visitor_slot(visitor(request)):
            for update in stepped_in_one_thread(arena.battle(prompt)):
                if update.stage == "done":
                    yield update.answer_a, update.answer_b, BEFORE_VOTE, update.battle_id, *votes_on(True)
                else:
                    yield (update.answer_a, update.answer_b, f"*{as_text(update.message) or 'Answering…'}*", None,
                           *votes_on(False))
    except UserFacingError as exc:
        raise user_error(exc) from exc


def cast_vote(arena: Arena, choice: str, battle_id: str | None):
    """The battle's one vote; the reveal follows it and the vote buttons switch off."""
    if not battle_id:
        raise user_error("Nothing to vote on yet: start a battle, read both answers, then vote.")
    try:
        state = arena.vote(battle_id, choice)
    except UserFacingError as exc:
        raise user_error(exc) from exc
    return reveal_markdown(state), None, battle_id, *votes_on(False)


def poll_reveal(arena: Arena, revealed_id: str | None):
    """The reveal again while the judge works, so its verdict appears without a click; once it is in, the polling
    of this page stops (the revealed id is cleared)."""
    if not revealed_id:
        return gr.skip(), gr.skip()
    try:
        state = arena.store.get(revealed_id)
    except UserFacingError:
        return gr.skip(), None
    return reveal_markdown(state), (revealed_id if state.judged is None else None)


def next_battle(arena: Arena):
    """A clean page for the next battle: a fresh prompt from the set where the arena offers one."""
    prompt = arena.random_prompt() if arena.config.prompts == "set" else ""
    return prompt, "", "", BEFORE_VOTE, None, None, *votes_on(False)


def random_prompt(arena: Arena) -> str:
    try:
        return arena.random_prompt()
    except UserFacingError as exc:
        raise user_error(exc) from exc


def arena_leaderboard() -> tuple[str, list[list]]:
    """The arena's leaderboard: Bradley-Terry ratings with 95% intervals from people's blind votes and, beside them,
    from the judge's verdicts on the same battles; battles and win rate per model; the judge's agreement with the
    crowd and Cohen's kappa. Takes no input.

    Returns:
        A Markdown text (the vote counts, the judge-crowd agreement and what the numbers mean) and the table, one row
        per model: model, battles, crowd rating, its 95% interval, crowd win rate, judge rating, its interval,
        judge win rate, judged battles.
    """
    board = open_arena().leaderboard()
    return leaderboard_markdown(board), table_rows(board)


def arena_leaderboard_json() -> dict:
    """The arena's leaderboard as JSON, every number unrounded: for each model the crowd's and the judge's battles,
    wins, ties, losses, win rate and Bradley-Terry rating with its 95% interval; the judge-crowd agreement and
    Cohen's kappa with their intervals; and the method in words. Takes no input."""
    return to_dict(open_arena().leaderboard())


def export(arena: Arena, kind: str) -> gr.File:
    path = export_leaderboard(arena.leaderboard(), kind, tempfile.mkdtemp(prefix="arena-export-"))
    return gr.File(value=str(path), visible=True)


def open_battle_link(arena: Arena, request: gr.Request | None):
    """?battle=ID: the battle on the Arena tab (SELECT_LINKED_TAB opens the tab); revealed when it has its vote, else
    ready for the one vote it may still get. Without the parameter, nothing changes."""
    battle_id = (request.query_params.get("battle") if request else None) or ""
    if not battle_id:
        return (gr.skip(),) * (6 + len(VOTE_IDS))
    try:
        state = arena.store.get(battle_id.strip())
    except UserFacingError as exc:
        gr.Warning(str(exc))
        return (gr.skip(),) * (6 + len(VOTE_IDS))
    answers = state.battle["answers"]
    voted = state.vote is not None
    return (state.battle["prompt"], answers["A"]["text"], answers["B"]["text"],
            reveal_markdown(state) if voted else BEFORE_VOTE, None if voted else state.id,
            state.id if voted else None, *votes_on(not voted))


def run_banner(request: gr.Request) -> gr.Markdown:
    """?run=NAME: the linked run's summary, shown above the tabs; hidden when the address names no run."""
    name = (request.query_params.get("run") if request else None) or ""
    if not name:
        return gr.Markdown(visible=False)
    try:
        run = linked_run(name)
    except UserFacingError as exc:
        return gr.Markdown(f"**Link:** {as_text(exc)}", visible=True)
    return gr.Markdown(f"#### Linked run `{as_text(run.folder.name)}`\n{summary_markdown(run)}\n\nThe **Results** tab "
                       "below is open on it: its charts, records and exports.", visible=True)


def arena_tab() -> ArenaTab:
    """The Arena tab's widgets and events (called inside gr.Blocks); the pool's mistakes stop the app at start."""
    arena = open_arena()
    writes = arena.config.prompts != "set"
    with gr.Tab("Arena", elem_id="tab-arena"):
        gr.Markdown(INTRO + "\n\n" + SAVED.format(published=f" and published to the dataset {arena.config.push.repo}"
                                                  if arena.config.push.repo else ""), elem_id="arena-intro")
        prompt = gr.Textbox(label="Instruction", lines=3, interactive=writes, elem_id="arena-prompt",
                            value="" if writes else arena.random_prompt(),
                            placeholder="Type an instruction" + (" or press Random prompt" if
                                                                 arena.config.prompts == "both" else ""))
        with gr.Row():
            pick = gr.Button("Random prompt", size="sm", elem_id="arena-random",
                             visible=arena.config.prompts != "visitor")
            start = gr.Button("Battle", variant="primary", elem_id="arena-battle")
        with gr.Row():
            answer_a = gr.Textbox(label="Model A", lines=10, interactive=False, elem_id="arena-answer-a")
            answer_b = gr.Textbox(label="Model B", lines=10, interactive=False, elem_id="arena-answer-b")
        with gr.Row(elem_id="arena-votes"):
            buttons = {c: gr.Button(VOTE_TEXT[c], size="sm", elem_id=eid, interactive=False)
                       for c, eid in VOTE_IDS.items()}
        reveal = gr.Markdown(BEFORE_VOTE, elem_id="arena-reveal")
        again = gr.Button("Next battle", elem_id="arena-next")
        battle_id = gr.State(None)  # the battle waiting for this page's vote
        revealed_id = gr.State(None)  # the battle revealed on this page, polled until its judge is done
        with gr.Accordion("Leaderboard", open=True, elem_id="arena-leaderboard"):
            board_text = gr.Markdown(elem_id="arena-board-text")
            board = gr.Dataframe(headers=TABLE_HEADERS, interactive=False, elem_id="arena-board", wrap=True)
            with gr.Row():
                refresh = gr.Button("Refresh", size="sm", elem_id="arena-refresh")
                exports = {kind: gr.Button(f"Export {kind.upper()}", size="sm", elem_id=f"arena-export-{kind}")
                           for kind in ("csv", "json", "html")}
            download = gr.File(label="Export", elem_id="arena-download", visible=False)  # shown with a file

        # The public endpoints first: a function's later, private uses would otherwise take its name.
        refresh.click(arena_leaderboard, None, [board_text, board], api_name="arena_leaderboard")
        gr.api(arena_leaderboard_json, api_name="arena_leaderboard_json")
        votes = list(buttons.values())
        start.click(lambda: (BEFORE_VOTE, None, *votes_on(False)), None, [reveal, revealed_id, *votes], queue=False,
                    **PRIVATE)

        def arena_battle(prompt: str, request: gr.Request):
            """Start a blind battle on an instruction: two models drawn from the arena's pool answer it as Model A and
            Model B, without their names (they are shown after a person's vote on the page).

            Args:
                prompt: the instruction both models answer (in an arena that battles on its prompt set only, one of
                    the set's prompts).

            Returns:
                Model A's answer, Model B's answer, a status line, and the battle's id.
            """
            yield from battle(arena, prompt, request)

        start.click(arena_battle, prompt, [answer_a, answer_b, reveal, battle_id, *votes], api_name="arena_battle",
                    concurrency_limit=app_concurrency())
        for choice, button in buttons.items():
            button.click(functools.partial(cast_vote, arena, choice), battle_id,
                         [reveal, battle_id, revealed_id, *votes], **PRIVATE).success(
                arena_leaderboard, None, [board_text, board], **PRIVATE)
        pick.click(functools.partial(random_prompt, arena), None, prompt, **PRIVATE)
        again.click(functools.partial(next_battle, arena), None,
                    [prompt, answer_a, answer_b, reveal, battle_id, revealed_id, *votes], **PRIVATE)
        for kind, button in exports.items():
            button.click(functools.partial(export, arena, kind), None, download, **PRIVATE)
        # Not queued: every open page ticks, and a tick only reads memory (the leaderboard is cached until an event
        # is added), so it must not wait in the queue behind battles.
        gr.Timer(LIVE_SECONDS).tick(arena_leaderboard, None, [board_text, board], **PRIVATE, show_progress="hidden",
                                    queue=False)
        gr.Timer(REVEAL_SECONDS).tick(functools.partial(poll_reveal, arena), revealed_id, [reveal, revealed_id],
                                      **PRIVATE, show_progress="hidden", queue=False)

    def open_link(request: gr.Request):  # a closure, not a partial: Gradio passes gr.Request by the annotation
        return open_battle_link(arena, request)

    return ArenaTab(link_outputs=[prompt, answer_a, answer_b, reveal, battle_id, revealed_id, *votes],
                    board_outputs=[board_text, board], open_link=open_link)
