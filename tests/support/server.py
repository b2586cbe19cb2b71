"""The server as `make serve` runs it (config/serve.py: uvicorn + the ASGI app), started on
a free loopback port with a models file, its own var folder and its own log."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"
_ACCESS_STATUS = re.compile(r'" (\d{3})\b')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    models_file: Path
    preload: Sequence[str] = ("tiny-f5",)
    default_model: str = "tiny-f5"
    extra_env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 180.0
    port: int = 0
    process: subprocess.Popen | None = None
    var_dir: Path | None = None
    log_path: Path | None = None
    #: Where to copy the server's log when it stops (its var folder is removed).
    keep_log: Path | None = None
    #: Celery workers to start (TTS_EXECUTION=celery; the broker and database come in
    #: extra_env): `make worker`'s command, each with the server's settings and var folder.
    workers: int = 0
    worker_processes: list[subprocess.Popen] = field(default_factory=list)
    #: Each worker's metrics port (TTS_WORKER_METRICS_PORT), in start order.
    worker_metrics_ports: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        if self.workers:
            self.extra_env.setdefault("TTS_EXECUTION", "celery")
        models_folder = Path(self.models_file).parent
        env = dict(os.environ)
        env.update(HF_HUB_OFFLINE="1", HOST=LOOPBACK, PORT=str(self.port),
                   TTS_MODELS_FILE=str(self.models_file), TTS_DEFAULT_MODEL=self.default_model,
                   TTS_PRELOAD=",".join(self.preload), TTS_VAR_DIR=str(self.var_dir),
                   TTS_VOCODER_PATH=str(models_folder / "vocos"),
                   TTS_MIN_FREE_MB="0")  # a crowded test machine's disk is not the test's
        env.update(self.extra_env)
        return env

    def start(self) -> LiveServer:
        self.port = self.port or free_port()
        self.var_dir = Path(tempfile.mkdtemp(prefix="tts-server-var-"))
        self.log_path = self.var_dir / "server.log"
        env = self.env()
        try:
            subprocess.run([PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                           check=True, capture_output=True, timeout=120)
            for _ in range(self.workers):
                self.start_worker()
            with self.log_path.open("wb") as log:
                self.process = subprocess.Popen(
                    [PYTHON, "-m", "config.serve"], cwd=ROOT, env=env, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True)
            self._wait_ready()
        except BaseException:  # SIGTERM (SystemExit) included: leave nothing running
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        import requests

        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n"
                                   + self.log_tail())
            with contextlib.suppress(requests.RequestException, ValueError):
                ready = requests.get(f"{self.url}/api/tts/health/ready/", timeout=5)
                loaded = set(requests.get(f"{self.url}/api/tts/health/",
                                          timeout=5).json()["loaded_models"])
                if ready.status_code == 200 and set(self.preload) <= loaded:
                    return
            time.sleep(0.3)
        raise TimeoutError(f"server not ready after {self.start_timeout:.0f} s:\n"
                           + self.log_tail())

    def start_worker(self) -> subprocess.Popen:
        """One more worker (`make worker`'s command), logging to worker-<n>.log."""
        index = len(self.worker_processes)
        self.worker_metrics_ports.append(free_port())
        env = {**self.env(), "TTS_EXECUTION": "celery",
               "TTS_WORKER_METRICS_PORT": str(self.worker_metrics_ports[-1])}
        with (self.var_dir / f"worker-{index}.log").open("wb") as log:
            process = subprocess.Popen(
                [PYTHON, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                 "--without-mingle", "--without-gossip", "--loglevel", "INFO",
                 "--hostname", f"worker{index}@%h"], cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.worker_processes.append(process)
        return process

    def worker_logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")
                         for path in sorted(self.var_dir.glob("worker-*.log")))

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def access_statuses(self, path: str = "/api/tts/generate/") -> list[int]:
        """HTTP statuses of the requests to ``path``, from the access log."""
        return [int(match.group(1)) for line in self.log_text().splitlines()
                if f"{path}" in line and "uvicorn.access" in line
                and (match := _ACCESS_STATUS.search(line))]

    def server_errors(self) -> list[str]:
        """Access-log lines with a 5xx other than 503 (503 = refused with Retry-After)."""
        return [line for line in self.log_text().splitlines() if "uvicorn.access" in line
                and (match := _ACCESS_STATUS.search(line)) and match.group(1).startswith("5")
                and match.group(1) != "503"]

    def logged_tracebacks(self) -> int:
        return self.log_text().count("Traceback (most recent call")

    def stop(self) -> None:
        for process in [self.process, *self.worker_processes]:
            if process is not None and process.poll() is None:
                _terminate(process)
        if self.var_dir is not None:
            if self.keep_log is not None and self.log_path is not None and self.log_path.exists():
                shutil.copyfile(self.log_path, self.keep_log)
            shutil.rmtree(self.var_dir, ignore_errors=True)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate(process: subprocess.Popen) -> None:
    """SIGTERM to the process's own session (a worker's pool processes too), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
