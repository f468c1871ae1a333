"""Test support: a loopback HTTP receiver for the callbacks and Results the simulator (or Daraja) POSTs.

Usable from any test (no pytest dependency)::

    with CallbackRecorder() as hooks:
        url = hooks.url("/hooks/s3cret/b2c/result/")
        ...
        body = hooks.wait_for(lambda path, body: path.endswith("/b2c/result/"))

``client_for(simulator)`` builds a DarajaClient with every credential a running DarajaSimulator expects.

Every JSON POST is recorded as ``(path, body)`` and answered ``{"ResultCode": 0, "ResultDesc": "Accepted"}``
unless a reply was set for that path with ``reply(path, body, status)`` (a C2B validation URL that rejects, say).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from mpesa_integration.daraja.client import DarajaClient

ACCEPTED_REPLY = {"ResultCode": 0, "ResultDesc": "Accepted"}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that hung up is normal in tests; anything else is still reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class CallbackRecorder:
    """Records every JSON body POSTed to it, per path, and lets a test wait for one."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.records: list[tuple[str, Any]] = []
        self.replies: dict[str, tuple[int, Any]] = {}
        self.cond = threading.Condition()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with recorder.cond:
                    recorder.records.append((path, body))
                    status, reply = recorder.replies.get(path, (200, ACCEPTED_REPLY))
                    recorder.cond.notify_all()
                data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = _QuietServer((host, 0), Handler)
        self.base_url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base_url + path

    def reply(self, path: str, body: Any, status: int = 200) -> None:
        """Answer POSTs to ``path`` with ``body`` (a JSON-able value, or raw bytes) and ``status``."""
        with self.cond:
            self.replies[path] = (status, body)

    def bodies(self, path: str | None = None) -> list[Any]:
        with self.cond:
            return [body for p, body in self.records if path is None or p == path]

    def wait_for(self, predicate: Callable[[str, Any], bool], timeout: float = 5) -> Any:
        """The first recorded body for which ``predicate(path, body)`` holds; AssertionError after ``timeout``."""

        def found() -> Any:
            for path, body in self.records:
                if predicate(path, body):
                    return body
            return None

        with self.cond:
            self.cond.wait_for(lambda: found() is not None, timeout=timeout)
            result = found()
        assert result is not None, "no matching callback arrived"
        return result

    def wait_count(self, path: str, count: int, timeout: float = 5) -> list[Any]:
        """Wait until ``count`` bodies arrived at ``path``; return them all (AssertionError when too few)."""
        with self.cond:
            self.cond.wait_for(lambda: sum(1 for p, _ in self.records if p == path) >= count, timeout=timeout)
            bodies = [body for p, body in self.records if p == path]
        assert len(bodies) >= count, f"{len(bodies)} of {count} callbacks arrived at {path}"
        return bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> CallbackRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def client_for(simulator: Any, **overrides: Any) -> DarajaClient:
    """A DarajaClient configured for a running DarajaSimulator (every credential it expects), 5 s timeout."""
    options: dict[str, Any] = {
        "base_url": simulator.base_url,
        "consumer_key": simulator.consumer_key,
        "consumer_secret": simulator.consumer_secret,
        "shortcode": simulator.shortcode,
        "passkey": simulator.passkey,
        "timeout": 5,
        "initiator_name": simulator.initiator_name,
        "initiator_password": simulator.initiator_password,
        "certificate_path": simulator.certificate_path,
        "b2c_shortcode": simulator.b2c_shortcode,
        "c2b_shortcode": simulator.c2b_shortcode,
    }
    options.update(overrides)
    return DarajaClient(**options)
