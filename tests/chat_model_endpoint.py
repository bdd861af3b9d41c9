"""A local chat-model server speaking the Ollama chat API, for tests of a configured `CRM_LLM`.

It answers with `reply` (streamed text) or `call` (one tool call), or fails with HTTP 500 when it has neither.
`serve(monkeypatch)` starts one and points `CRM_LLM` at it with a fresh model name (so no cached client is
reused); the caller stops it with `stop()`.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crm.settings import get_settings

_STAMP = "2026-01-01T00:00:00Z"
_DONE = {"model": "m", "created_at": _STAMP, "done": True, "done_reason": "stop", "total_duration": 1,
         "load_duration": 1, "prompt_eval_count": 1, "prompt_eval_duration": 1, "eval_count": 1, "eval_duration": 1}


class ChatModelEndpoint(ThreadingHTTPServer):
    daemon_threads, block_on_close = True, False   # the cached model client keeps its connection open

    def __init__(self, reply: str | None = None, call: dict | None = None):
        self.reply, self.call, self.requests = reply, call, 0
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def lines(self) -> list[dict] | None:
        if self.call is not None:
            return [{**_DONE, "message": {"role": "assistant", "content": "", "tool_calls": [{"function": self.call}]}}]
        if self.reply is not None:
            return [{"model": "m", "created_at": _STAMP, "done": False,
                     "message": {"role": "assistant", "content": self.reply}},
                    {**_DONE, "message": {"role": "assistant", "content": ""}}]
        return None

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests += 1
        lines = self.server.lines()
        if lines is None:
            body = b'{"error": "model runner crashed"}'
            self.send_response(500)
        else:
            body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
            self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(monkeypatch, reply: str | None = None, call: dict | None = None) -> ChatModelEndpoint:
    """Start an endpoint and configure `CRM_LLM` as an Ollama model served by it."""
    server = ChatModelEndpoint(reply, call)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    monkeypatch.setattr(get_settings(), "crm_llm", f"ollama:test-{uuid.uuid4().hex[:8]}")
    return server
