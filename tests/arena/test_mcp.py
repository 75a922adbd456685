"""The app as an MCP server (`python app.py --mcp`, or $LLM_JUDGE_MCP=1): an MCP client connects over streamable
HTTP and lists the tools: compare, validate (run_lab) and the arena's leaderboard and battle, each described from its
docstring; without the flag there is no MCP endpoint."""
import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from arena_app import kill, launch_app

pytestmark = pytest.mark.process  # the app in its own process, an MCP client against it


def run_async(coroutine, timeout: float = 60):
    """The coroutine on its own event loop in a thread: a browser test earlier in this worker leaves Playwright's
    loop running in the main thread, where asyncio.run() refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, timeout)).result()


async def list_tools(url: str) -> dict:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(f"{url}gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return {tool.name: tool for tool in (await session.list_tools()).tools}


@pytest.mark.parametrize("flag, env", [(("--mcp",), {}), ((), {"LLM_JUDGE_MCP": "1"})])
def test_an_mcp_client_lists_compare_validate_and_the_leaderboard(tmp_path, flag, env):
    process, url = launch_app(tmp_path, *flag, **env)
    try:
        tools = run_async(list_tools(url))
        board = run_async(call_leaderboard(url)) if flag else None
    finally:
        kill(process)
    # Gradio names a tool after its function: the Judge Lab's validate endpoint is run_lab.
    assert {"compare", "run_lab", "arena_leaderboard", "arena_leaderboard_json", "arena_battle"} <= set(tools)
    compare = tools["compare"].inputSchema["properties"]
    assert "BASE or BASE+ADAPTER" in str(compare["model_a"]) and "instruction" in str(compare["prompt"])
    assert "labelled file" in str(tools["run_lab"].inputSchema["properties"]["data"])
    leaderboard = next(t for n, t in tools.items() if n.endswith("arena_leaderboard"))
    assert "Bradley-Terry" in leaderboard.description and "crowd" in leaderboard.description
    battle = next(t for n, t in tools.items() if n.endswith("arena_battle"))
    assert "prompt" in battle.inputSchema["properties"]
    assert "instruction both models answer" in str(battle.inputSchema["properties"]["prompt"])
    if board is not None:
        assert "No votes yet" in board


async def call_leaderboard(url: str) -> str:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async with streamablehttp_client(f"{url}gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            name = next(t.name for t in tools if t.name.endswith("arena_leaderboard"))
            result = await session.call_tool(name, {})
            return " ".join(getattr(part, "text", "") for part in result.content)


def test_without_the_flag_there_is_no_mcp_endpoint(tmp_path):
    process, url = launch_app(tmp_path, LLM_JUDGE_MCP="0", GRADIO_MCP_SERVER="")
    try:
        answer = httpx.get(f"{url}gradio_api/mcp/schema", timeout=10)
    finally:
        kill(process)
    assert answer.status_code == 404
