"""The image's HEALTHCHECK: what "healthy" means depends on what the container runs
(docker/entrypoint.sh writes its role to /tmp/tts-role).

- serve: the readiness endpoint answers 200 (the default model is loaded and warm; in celery
  mode, a worker that serves it is ready);
- worker: this container's worker process has published a ready status in the broker
  (tts.execution.cluster: a key per worker process that expires when it goes quiet);
- beat, migrate, manage: healthy while running.

Only the standard library and redis: it runs every few seconds, so it never sets Django up.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.request
from pathlib import Path

ROLE_FILE = Path("/tmp/tts-role")
WORKER_KEY_PREFIX = "tts:worker:"  # tts.execution.cluster.KEY_PREFIX


def serve_ready() -> bool:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/api/tts/health/ready/"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError as exc:
        print(f"not ready: {exc}")
        return False


def worker_ready() -> bool:
    import redis

    url = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    try:
        conn = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        pattern = f"{WORKER_KEY_PREFIX}{socket.gethostname()}:*"
        documents = [conn.get(key) for key in conn.scan_iter(match=pattern, count=100)]
    except redis.RedisError as exc:
        print(f"broker unreachable: {exc}")
        return False
    states = [json.loads(doc) for doc in documents if doc]
    if not states:
        print("no worker process of this container has published its status")
    return any(state.get("ready") for state in states)


def main() -> int:
    role = ROLE_FILE.read_text().strip() if ROLE_FILE.exists() else "serve"
    if role == "serve":
        return 0 if serve_ready() else 1
    if role == "worker":
        return 0 if worker_ready() else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
