"""Drives kb's MCP server with the official MCP Python SDK (`mcp`, pinned in scripts/test.sh), the way an MCP host
does: over stdio (`kb mcp` as a subprocess) and over Streamable HTTP (`/mcp` on a running `kb serve`).

    mcp_client.py stdio KB_BINARY WORKSPACE
    mcp_client.py http URL TOKEN
    mcp_client.py hang URL TOKEN QUESTION     (asks and waits; the test kills it mid-answer)
    mcp_client.py bench-stdio KB_BINARY WORKSPACE N  /  bench-http URL TOKEN N

Prints one JSON object with what it saw; the Swift test checks it (this script asserts nothing itself, so that a
failure shows the whole picture)."""
import asyncio
import json
import os
import statistics
import sys
import time

from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def unwrap(error):
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def call_error(session, name, arguments):
    """The MCP error a bad call gets, as {code, message}, or what came back instead."""
    try:
        result = await session.call_tool(name, arguments)
        return {"no_error": True, "is_error": result.is_error, "text": result.content[0].text if result.content else ""}
    except MCPError as error:
        return {"code": error.code, "message": error.message}


async def exercise(session):
    seen = {}
    init = await session.initialize()
    seen["protocol"] = init.protocol_version
    seen["server"] = init.server_info.name
    tools = (await session.list_tools()).tools
    seen["tools"] = sorted(tool.name for tool in tools)
    seen["schemas"] = {tool.name: {"input": tool.input_schema.get("type"), "output": (tool.output_schema or {}).get("type"),
                                   "required": tool.input_schema.get("required", [])} for tool in tools}

    search = await session.call_tool("search", {"query": "When did the Colosseum open?", "k": 3})
    seen["search"] = {"is_error": search.is_error, "text": search.content[0].text, "structured": search.structured_content}

    progress = []

    async def on_progress(value, total, message):
        progress.append({"progress": value, "message": message})

    ask = await session.call_tool("ask", {"question": "When did the Colosseum in Rome open?"}, progress_callback=on_progress)
    seen["ask"] = {"is_error": ask.is_error, "text": ask.content[0].text, "structured": ask.structured_content}
    seen["progress"] = progress
    conversation = (ask.structured_content or {}).get("conversation_id")
    if conversation:
        follow = await session.call_tool("ask", {"question": "And when did it close?", "conversation_id": conversation})
        seen["follow_up"] = follow.structured_content
    abstain = await session.call_tool("ask", {"question": "What is the boiling point of liquid nitrogen?"})
    seen["abstain"] = abstain.structured_content

    hits = (search.structured_content or {}).get("results", [])
    if hits:
        chunk = await session.call_tool("read", {"chunk_id": hits[0]["chunk_id"]})
        seen["read_chunk"] = chunk.structured_content
        lines = await session.call_tool("read", {"path": "docs/rome.md", "start_line": 1, "end_line": 3})
        seen["read_lines"] = lines.structured_content
    seen["documents"] = (await session.call_tool("list_documents", {"format": "markdown"})).structured_content
    seen["documents_in_folder"] = (await session.call_tool("list_documents", {"folder": "docs/other"})).structured_content
    seen["status"] = (await session.call_tool("status", {})).structured_content

    seen["errors"] = {
        "unknown_tool": await call_error(session, "delete_everything", {}),
        "missing_field": await call_error(session, "search", {}),
        "wrong_type": await call_error(session, "search", {"query": "rome", "k": "three"}),
        "unknown_field": await call_error(session, "search", {"query": "rome", "limit": 3}),
        "empty_query": await call_error(session, "search", {"query": "   "}),
        "outside": await call_error(session, "read", {"path": "/etc/passwd"}),
        "dotdot": await call_error(session, "read", {"path": "../../../../etc/passwd"}),
        "no_such_chunk": await call_error(session, "read", {"chunk_id": "987654"}),
    }
    # The server still answers after the bad calls.
    seen["after_errors"] = (await session.call_tool("status", {})).structured_content.get("documents")
    return seen


def http_client(token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return create_mcp_http_client(headers=headers)


async def over_http(url, token):
    async with http_client(token) as http, streamable_http_client(url, http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        seen = await exercise(session)
    # Without the token: refused before MCP (401), which the client reports as an error.
    try:
        async with http_client(None) as http, streamable_http_client(url, http_client=http) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            seen["no_token"] = "connected"
    except BaseException as error:  # noqa: BLE001 - the client wraps it in exception groups
        seen["no_token"] = type(unwrap(error)).__name__
    async with http_client(None) as http:
        response = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "initialize"},
                                   headers={"Accept": "application/json, text/event-stream"})
        seen["no_token_status"] = response.status_code
        # A page on another site cannot reach it either: the Host and Origin are checked.
        response = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                                   headers={"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {token}",
                                            "Origin": "http://evil.example"})
        seen["foreign_origin_status"] = response.status_code
    return seen


async def over_stdio(binary, workspace):
    params = StdioServerParameters(command=binary, args=["mcp"], cwd=workspace, env=dict(os.environ))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        return await exercise(session)


async def hang(url, token, question):
    async with http_client(token) as http, streamable_http_client(url, http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        print("asking", flush=True)
        await session.call_tool("ask", {"question": question})


async def bench(session, n):
    await session.initialize()
    timings = {}
    query = os.environ.get("KB_BENCH_QUERY", "When did the Colosseum open?")
    question = os.environ.get("KB_BENCH_QUESTION", "When did the Colosseum in Rome open?")
    for name, arguments in (("search", {"query": query, "k": 5}), ("ask", {"question": question})):
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            await session.call_tool(name, arguments)
            samples.append((time.perf_counter() - started) * 1000)
        timings[name] = statistics.median(samples)
    return timings


async def main():
    mode = sys.argv[1]
    if mode == "stdio":
        seen = await over_stdio(sys.argv[2], sys.argv[3])
    elif mode == "http":
        seen = await over_http(sys.argv[2], sys.argv[3])
    elif mode == "hang":
        await hang(sys.argv[2], sys.argv[3], sys.argv[4])
        return
    elif mode == "bench-stdio":
        params = StdioServerParameters(command=sys.argv[2], args=["mcp"], cwd=sys.argv[3], env=dict(os.environ))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            seen = await bench(session, int(sys.argv[4]))
    elif mode == "bench-http":
        async with http_client(sys.argv[3]) as http, streamable_http_client(sys.argv[2], http_client=http) as (read, write), \
                ClientSession(read, write) as session:
            seen = await bench(session, int(sys.argv[4]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(seen, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
