"""Test helpers: a hung TCP server, a closed port, a Django app served in a subprocess, and API route discovery."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.urls import get_resolver

REPO_ROOT = Path(__file__).resolve().parents[2]


class HungServer:
    """Accepts TCP connections and never answers: a Redis (or broker) that is up but hung."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(conn)  # keep it open, read nothing, answer nothing

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without ChamaHub configuration, plus `overrides`."""
    names = {
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "CELERY_TASK_ALWAYS_EAGER",
        "SECRET_KEY",
        "DEBUG",
        "DJANGO_SETTINGS_MODULE",
    }
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(overrides)
    return env


SERVE_SCRIPT = """
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

from chamahub.wsgi import application


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


server = make_server("127.0.0.1", 0, application, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


class ServedApp:
    """chamahub.wsgi.application on a free loopback port, in its own process with its own environment."""

    def __init__(self, env: dict[str, str], start_timeout: float = 20) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE_SCRIPT],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + start_timeout
        line = ""
        while time.monotonic() < deadline and not line:
            line = self.proc.stdout.readline().strip()
            if self.proc.poll() is not None:
                break
        if not line.isdigit():
            self.stop()
            raise RuntimeError(f"app did not start: {line!r} {self.proc.stderr.read()[-2000:]}")
        self.port = int(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def api_routes():
    """(url name, path with regex groups, {method: action}, is_detail) for every DRF route under /api/v1/."""
    routes = []
    for raw, pattern in _walk(get_resolver().url_patterns):
        actions = getattr(pattern.callback, "actions", None)
        if not raw.startswith("api/v1/") or not actions or "format" in raw:
            continue
        path = "/" + raw.replace("^", "").replace("$", "")
        routes.append((pattern.name, path, dict(actions), bool(pattern.callback.initkwargs.get("detail"))))
    return routes
