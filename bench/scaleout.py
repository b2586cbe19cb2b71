"""Scale-out: the same burst of requests served inline, by one Celery worker and by two, and the
latency the web tier adds in celery mode, side by side in one run (loopback only).

- Throughput: ``--burst`` requests at once (one client each) of the mid-size model; inline,
  celery with 1 worker and celery with 2 workers, every process with one torch thread so that
  workers, not threads, are what scales. Ratio: 2 workers / 1 worker.
- Latency: ``--sequential`` short requests one after another (tiny model, nfe 4): median
  client time inline and in celery mode (1 worker). Ratio: celery / inline; the difference is
  what handing the work to a worker through Redis costs per request.

Needs Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432), as the scale-out tests do.

    .venv/bin/python -m bench.scaleout
    .venv/bin/python -m bench.scaleout --burst 4 --sequential 10
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from pathlib import Path
from typing import Any

from bench import common


def burst(server: common.Server, count: int, *, ref: bytes, model: str, nfe: int) -> dict:
    import requests

    replies: list[common.Reply] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def client(index: int) -> None:
        barrier.wait(timeout=30)
        reply = common.post_generate(requests.Session(), server.url, ref_audio=ref,
                                     ref_text=common.REF_TEXT, gen_text=common.GEN_TEXT,
                                     model=model, nfe_step=nfe, seed=index, timeout=600)
        with lock:
            replies.append(reply)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=900)
    wall = time.perf_counter() - started
    ok = [r for r in replies if r.status == 200]
    return {"ok": len(ok), "sent": count, "wall": wall, "throughput": len(ok) / wall,
            "p50": common.percentile([r.seconds for r in ok], 50),
            "statuses": sorted({r.status for r in replies})}


def sequential(server: common.Server, count: int, *, ref: bytes) -> dict:
    import requests

    session = requests.Session()
    times = []
    for index in range(count + 1):
        reply = common.post_generate(session, server.url, ref_audio=ref, ref_text=common.REF_TEXT,
                                     gen_text="Short.", model="tiny-f5", nfe_step=4, seed=index,
                                     timeout=120)
        if reply.status != 200:
            raise RuntimeError(f"request failed: {reply}")
        if index:  # the first one warms the reference cache
            times.append(reply.seconds)
    return {"p50": common.percentile(times, 50), "p95": common.percentile(times, 95)}


@contextlib.contextmanager
def deployment(models_file: Path, *, workers: int, broker: str, database: str):
    """An inline server (workers=0) or a celery-mode web server with ``workers`` workers."""
    env = {"TTS_THREADS": "1", "TTS_INTEROP_THREADS": "1", "TTS_MAX_QUEUE": "16"}
    if workers:
        env.update(CELERY_BROKER_URL=broker, DATABASE_URL=database)
    server = common.Server(models_file, preload=["tiny-f5", "mid-f5"], default_model="tiny-f5",
                           workers=workers, extra_env=env, start_timeout=300)
    with server:
        if workers:
            wait_for_workers(server, workers)
        yield server


def wait_for_workers(server: common.Server, count: int, timeout: float = 300) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = requests.get(server.url + "/api/tts/health/", timeout=10).json()["workers"]
        if len(found) == count and all(w["ready"] and len(w["loaded_models"]) == 2
                                       for w in found):
            return
        time.sleep(0.5)
    raise TimeoutError(f"{count} workers not ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=6, help="requests at once (mid model)")
    parser.add_argument("--nfe", type=int, default=8)
    parser.add_argument("--sequential", type=int, default=15, help="short requests in a row")
    parser.add_argument("--workdir", help="models and audio (default: $BENCH_WORKDIR or temp)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()
    from tests.support.services import postgres_database, redis_database

    common.print_header("bench/scaleout.py: inline vs Celery workers", burst=args.burst,
                        nfe=args.nfe, sequential=args.sequential)
    folder = common.workdir(args.workdir)
    models_file = common.prepare_models(folder)
    ref = common.speak(common.REF_TEXT, folder / "ref.wav").read_bytes()
    rows: list[list[Any]] = []
    results: dict[str, dict] = {}
    try:
        with redis_database() as broker, postgres_database() as database:
            for label, workers in (("inline", 0), ("celery, 1 worker", 1),
                                   ("celery, 2 workers", 2)):
                with deployment(models_file, workers=workers, broker=broker,
                                database=database) as server:
                    latency = sequential(server, args.sequential, ref=ref) if workers < 2 \
                        else None
                    load = burst(server, args.burst, ref=ref, model="mid-f5", nfe=args.nfe)
                results[label] = {"burst": load, "latency": latency}
                if load["ok"] < load["sent"]:
                    print(f"{label}: statuses {load['statuses']}")
                rows.append([label, f"{load['ok']}/{load['sent']}", f"{load['wall']:.1f}",
                             f"{load['throughput']:.3f}", f"{load['p50']:.2f}",
                             f"{latency['p50'] * 1000:.0f}" if latency else "-"])
    except BaseException as exc:  # pytest's skip outside pytest: a service is missing
        if type(exc).__name__ in ("Skipped", "Failed"):
            print(f"skipped: {exc}")
            return 0
        raise
    common.print_table(["deployment", "burst ok", "wall s", "req/s", "p50 s (burst)",
                        "short request p50 ms"], rows)
    one = results["celery, 1 worker"]
    two = results["celery, 2 workers"]
    inline = results["inline"]
    print(f"\nthroughput, 2 workers / 1 worker: "
          f"{two['burst']['throughput'] / one['burst']['throughput']:.2f}x")
    print(f"throughput, 1 worker / inline: "
          f"{one['burst']['throughput'] / inline['burst']['throughput']:.2f}x")
    added = one["latency"]["p50"] - inline["latency"]["p50"]
    print(f"short request, celery / inline: "
          f"{one['latency']['p50'] / inline['latency']['p50']:.2f}x "
          f"({added * 1000:+.0f} ms per request handed to a worker)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
