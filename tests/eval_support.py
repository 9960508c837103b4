"""Helpers for the evaluation tests: a miniature QEVD dataset, and OpenAI-compatible HTTP servers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A reply is the assistant's text (answered as a 200 chat completion), or (HTTP status, raw JSON body) to play
# a failing or odd server.
Reply = Callable[[dict[str, Any]], "str | tuple[int, dict[str, Any]]"]


@contextmanager
def chat_server(reply: Reply, model: str = "fixed-judge") -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server on a free loopback port answering ``POST /v1/chat/completions`` with ``reply(body)``.
    Yields (endpoint URL, the requests seen: body and Authorization header). Stopped on exit."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            seen.append({"path": self.path, "body": body, "authorization": self.headers.get("Authorization")})
            if self.path != "/v1/chat/completions":
                self.send_error(404)
                return
            answer = reply(body)
            status, doc = (
                answer
                if isinstance(answer, tuple)
                else (
                    200,
                    {
                        "model": model,
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
                        ],
                    },
                )
            )
            payload = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def local_model_reply() -> Reply:
    """Replies from the real packaged SmolLM2 (workbench.llm.LocalClient), with the request's sampling settings."""
    from workbench.llm import LocalClient

    client = LocalClient()

    def reply(body: dict[str, Any]) -> str:
        return client.complete(
            body["messages"],
            max_new_tokens=int(body.get("max_tokens", 64)),
            temperature=float(body.get("temperature", 0.0)),
            top_p=float(body.get("top_p", 1.0)),
            seed=int(body.get("seed", 0)),
        ).text

    return reply
