"""`graphrec serve` as an operator runs it: a uvicorn process that answers, logs JSON, and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx

from graphrec.config import Settings
from graphrec.db.local import free_port


def test_serve_answers_and_shuts_down_gracefully_on_sigterm(neo4j_settings: Settings) -> None:
    port, metrics_port = free_port(), free_port()
    env = os.environ | {
        "GRAPHREC_API_METRICS_PORT": str(metrics_port),  # /metrics served beside the API, stopped with it
        "NEO4J_URI": neo4j_settings.neo4j_uri,
        "NEO4J_USERNAME": neo4j_settings.neo4j_username,
        "NEO4J_PASSWORD": neo4j_settings.neo4j_password.get_secret_value(),
        "NEO4J_DATABASE": neo4j_settings.neo4j_database,
    }
    cmd = [sys.executable, "-m", "graphrec", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180  # importing torch on a busy machine takes its time
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "graphrec serve did not start listening"
                time.sleep(0.3)
        assert health.json() == {"status": "ok"}
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": "{ model { version } }"}, timeout=60
        )
        assert answer.status_code == 200
        assert "data" in answer.json()
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=60).status_code in {200, 503}
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60).status_code == 404
        metrics = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=60)
        assert 'graphrec_graphql_requests_total{operation="anonymous",type="query"} 1.0' in metrics.text
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    logs = [json.loads(line) for line in (server.stderr.read() if server.stderr else "").splitlines() if line]
    assert code == -signal.SIGTERM  # uvicorn re-raises the signal after its graceful shutdown
    messages = [entry["message"] for entry in logs]
    assert "graphrec api started" in messages
    assert "graphrec api stopped: Neo4j driver closed" in messages
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in logs)
