"""Soak: N clients for M minutes against the live server on 127.0.0.1, mixing whole-file,
streamed and cached-reference requests with listings. Reports lost requests, latency
percentiles, and every 30 s the server process's RSS, open file descriptors and the files in
its private temp folder.

Targets: 0 lost; RSS flat within 10 % after warm-up; no growth of descriptors or temp files.

    .venv/bin/python -m bench.soak                       # 4 clients, 3 minutes, tiny model
    .venv/bin/python -m bench.soak --clients 8 --minutes 10
    .venv/bin/python -m bench.soak --workers 2           # RSS of each worker process
    .venv/bin/python -m bench.soak --server-env MALLOC_ARENA_MAX=8   # compare allocator settings
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from bench import common

SAMPLE_EVERY = 30.0


def worker_pids(pid: int) -> list[int]:
    """The processes that serve: the server itself, or with several workers its children
    started by multiprocessing (not the ffmpeg it runs now and then)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    workers = [child for child in children
               if b"multiprocessing" in Path(f"/proc/{child}/cmdline").read_bytes()
               and b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()]
    return sorted(workers) or [pid]


def _status(pid: int, field: str) -> int:
    return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text()
                .splitlines() if line.startswith(field + ":"))


def process_facts(pids: list[int], tmp: Path) -> dict[str, float | list[float]]:
    """RSS of each worker, summed threads and descriptors, files in the server's temp folder."""
    return {"rss_mb": [_status(pid, "VmRSS") / 1024 for pid in pids],
            "threads": sum(_status(pid, "Threads") for pid in pids),
            "fds": sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids),
            "tmp_files": sum(1 for _ in tmp.rglob("*"))}


def client(server: common.Server, refs: list[bytes], deadline: float, number: int,
           results: list, lock: threading.Lock) -> None:
    import requests

    session = requests.Session()
    kinds = ("whole", "stream", "listing", "whole-new-clip")
    index = 0
    while time.monotonic() < deadline:
        kind = kinds[(number + index) % len(kinds)]
        ref = refs[(number * 1000 + index) % len(refs)] if kind == "whole-new-clip" else refs[0]
        started = time.perf_counter()
        try:
            if kind == "listing":
                status = session.get(f"{server.url}/api/tts/models/", timeout=60).status_code
            elif kind == "stream":
                timing = common.post_stream(server.url, ref_audio=ref, ref_text=common.REF_TEXT,
                                            gen_text=common.GEN_TEXT, model="tiny-f5",
                                            nfe_step=8, seed=index)
                status = timing.status
            else:
                status = common.post_generate(session, server.url, ref_audio=ref,
                                              ref_text=common.REF_TEXT, gen_text=common.GEN_TEXT,
                                              model="tiny-f5", nfe_step=8, seed=index).status
        except Exception as exc:  # a lost request: counted, never raised
            status = f"lost ({type(exc).__name__})"
        with lock:
            results.append((kind, status, time.perf_counter() - started))
        index += 1
    session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1, help="server processes "
                        "(WEB_CONCURRENCY)")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS is "
                        "taken as the baseline (the reference cache fills meanwhile)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment of the server (repeatable)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    common.stop_on_sigterm()
    folder = common.workdir(args.workdir)
    models_file = common.prepare_models(folder)
    base = common.speak(common.REF_TEXT, folder / "soak-ref.wav")
    refs = [base.read_bytes()] + [common.variant(base, n) for n in range(1, 200)]
    tmp = Path(tempfile.mkdtemp(prefix="tts-soak-tmp-"))
    common.print_header("soak", clients=args.clients, minutes=args.minutes,
                        workers=args.workers, server_env=" ".join(args.server_env) or "-")
    results: list = []
    lock = threading.Lock()
    samples = []
    with common.Server(models_file, preload=["tiny-f5"], default_model="tiny-f5",
                       extra_env={"TMPDIR": str(tmp), "TTS_MAX_QUEUE": str(args.clients + 4),
                                  "WEB_CONCURRENCY": str(args.workers), **server_env}
                       ) as server:
        pids = worker_pids(server.process.pid)
        started = time.monotonic()
        samples.append((0.0, process_facts(pids, tmp)))
        deadline = started + args.minutes * 60
        threads = [threading.Thread(target=client, args=(server, refs, deadline, n, results,
                                                          lock)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        while time.monotonic() < deadline:
            time.sleep(min(SAMPLE_EVERY, max(deadline - time.monotonic(), 0.1)))
            samples.append((time.monotonic() - started, process_facts(pids, tmp)))
        for thread in threads:
            thread.join(600)
        time.sleep(7)  # idle keep-alive connections close after 5 s
        samples.append((time.monotonic() - started, process_facts(pids, tmp)))
        server_errors = server.server_errors()
    rss_headers = (["RSS MB"] if len(pids) == 1
                   else [f"RSS MB (pid {pid})" for pid in pids])
    common.print_table(["t s", *rss_headers, "threads", "open fds", "temp files"],
                       [[round(t), *f["rss_mb"], f["threads"], f["fds"], f["tmp_files"]]
                        for t, f in samples])
    rows = []
    for kind in sorted({kind for kind, _, _ in results}):
        mine = [r for r in results if r[0] == kind]
        ok = [seconds for _, status, seconds in mine if status == 200]
        rows.append([kind, len(mine), len(ok), len(mine) - len(ok),
                     common.percentile(ok, 50), common.percentile(ok, 95)])
    common.print_table(["request", "sent", "200", "other", "p50 s", "p95 s"], rows)
    lost = [status for _, status, _ in results if isinstance(status, str)]
    others = [status for _, status, _ in results if status != 200 and not isinstance(status, str)]
    warm_index = next((i for i, (t, _) in enumerate(samples) if t >= args.warmup),
                      len(samples) - 1)
    growth = max(max(f["rss_mb"][w] for _, f in samples[warm_index:])
                 / samples[warm_index][1]["rss_mb"][w] - 1 for w in range(len(pids)))
    fd_growth = samples[-1][1]["fds"] - samples[0][1]["fds"]
    tmp_growth = samples[-1][1]["tmp_files"] - samples[0][1]["tmp_files"]
    print(f"lost: {len(lost)}  non-200 answers: {len(others)} {sorted(set(others))}  "
          f"server 5xx (not 503): {len(server_errors)}")
    print(f"RSS after warm-up ({samples[warm_index][0]:.0f} s): max growth {growth:+.1%} "
          f"(target within 10 %); open fds {fd_growth:+d}; temp files {tmp_growth:+d}")
    print("load average at the end: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    met = not lost and growth <= 0.10 and fd_growth <= 0 and tmp_growth <= 0
    print("targets met" if met else "targets missed")


if __name__ == "__main__":
    main()
