"""Concurrency: N = 1, 2, 4, 8 clients against the live server, each sending a bounded number
of requests one after another (loopback only; every request has a timeout and every level a
deadline after which no new request starts).

Per level: requests sent and answered, throughput, p50/p95 latency of successful requests,
refused requests (429/503 with Retry-After), other errors, and requests lost (sent but never
answered, or missing from the server's access log). No request may be lost or get a 5xx other
than a 503 refusal.

    .venv/bin/python -m bench.concurrency
    .venv/bin/python -m bench.concurrency --max-queue 2 --levels 8    # see refusals
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from typing import Any

from bench import common


def run_level(server: common.Server, clients: int, *, requests_each: int, refs: list[bytes],
              model_id: str, nfe: int, timeout: float, deadline_s: float) -> dict[str, Any]:
    import requests

    replies: list[common.Reply] = []
    not_started = 0
    lock = threading.Lock()
    deadline = time.monotonic() + deadline_s
    barrier = threading.Barrier(clients)

    def client(index: int) -> None:
        nonlocal not_started
        session = requests.Session()
        barrier.wait(timeout=30)
        for number in range(requests_each):
            if time.monotonic() > deadline:
                with lock:
                    not_started += requests_each - number
                return
            reply = common.post_generate(
                session, server.url, ref_audio=refs[index % len(refs)], ref_text=common.REF_TEXT,
                gen_text=common.GEN_TEXT, model=model_id, nfe_step=nfe, seed=index * 100 + number,
                timeout=timeout)
            with lock:
                replies.append(reply)

    logged_before = len(server.access_statuses())
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=deadline_s + timeout + 30)
    wall = time.perf_counter() - started
    time.sleep(0.3)  # let the server flush its access log
    logged = server.access_statuses()[logged_before:]

    statuses = Counter(r.status for r in replies)
    ok = [r for r in replies if r.status == 200]
    latencies = [r.seconds for r in ok]
    audio = sum(r.body["duration"] for r in ok if r.body)
    queue = [r.body["timing"]["queue_seconds"] for r in ok if r.body]
    refused = statuses[429] + statuses[503]
    refused_with_retry = sum(1 for r in replies if r.status in (429, 503) and r.retry_after)
    return {
        "clients": clients,
        "planned": clients * requests_each,
        "sent": len(replies),
        "not_started": not_started,
        "ok": len(ok),
        "refused": refused,
        "refused_retry_after": refused_with_retry,
        "errors_4xx": sum(n for s, n in statuses.items() if 400 <= s < 500 and s != 429),
        "errors_5xx": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
        "transport": statuses[0],
        "lost": (clients * requests_each - not_started - len(replies)) + statuses[0],
        "logged": len(logged),
        "wall": wall,
        "throughput": len(ok) / wall,
        "audio_per_s": audio / wall,
        "p50": common.percentile(latencies, 50),
        "p95": common.percentile(latencies, 95),
        "queue_p50": common.percentile(queue, 50),
        "statuses": dict(statuses),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--requests", type=int, default=4, help="requests per client")
    parser.add_argument("--model", choices=sorted(common.MODEL_IDS), default="tiny")
    parser.add_argument("--nfe", type=int, default=16)
    parser.add_argument("--max-queue", type=int, default=None,
                        help="server TTS_MAX_QUEUE (default: the server's own, 8)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per request, seconds")
    parser.add_argument("--deadline", type=float, default=90.0,
                        help="per level: no new request starts after this many seconds")
    parser.add_argument("--workdir", help="models and audio (default: $BENCH_WORKDIR or temp)")
    args = parser.parse_args(argv)
    common.stop_on_sigterm()

    model_id = common.MODEL_IDS[args.model]
    extra_env = {} if args.max_queue is None else {"TTS_MAX_QUEUE": str(args.max_queue)}
    common.print_header("bench/concurrency.py: concurrent clients against the live server",
                        model=model_id, nfe=args.nfe, requests_per_client=args.requests,
                        TTS_MAX_QUEUE=args.max_queue or "8 (default)",
                        levels=" ".join(map(str, args.levels)))
    folder = common.workdir(args.workdir)
    models_file = common.prepare_models(folder)
    base = common.speak(common.REF_TEXT, folder / "concurrency-ref.wav")
    # One clip per client (first request of each is a cache miss, the rest hits).
    refs = [common.variant(base, 1000 + i) for i in range(max(args.levels))]

    results = []
    with common.Server(models_file, preload=[model_id], default_model=model_id,
                       extra_env=extra_env, keep_log=folder / "concurrency-server.log") as server:
        run_level(server, 1, requests_each=1, refs=refs, model_id=model_id, nfe=args.nfe,
                  timeout=args.timeout, deadline_s=args.deadline)  # warm-up
        for clients in args.levels:
            results.append(run_level(server, clients, requests_each=args.requests, refs=refs,
                                     model_id=model_id, nfe=args.nfe, timeout=args.timeout,
                                     deadline_s=args.deadline))
        server_5xx = server.server_errors()
        tracebacks = server.logged_tracebacks()

    common.print_table(
        ["N", "sent", "ok", "refused", "4xx", "5xx", "lost", "in log", "wall s", "req/s",
         "audio s/s", "p50 s", "p95 s", "queue p50 s"],
        [[r["clients"], f"{r['sent']}/{r['planned']}", r["ok"],
          f"{r['refused']} ({r['refused_retry_after']} w/ Retry-After)", r["errors_4xx"],
          r["errors_5xx"], r["lost"], r["logged"], r["wall"], r["throughput"],
          r["audio_per_s"], r["p50"], r["p95"], r["queue_p50"]] for r in results])
    for r in results:
        if r["not_started"]:
            print(f"N={r['clients']}: {r['not_started']} requests not started (deadline)")
    lost = sum(r["lost"] + abs(r["sent"] - r["logged"]) for r in results)
    bad = sum(r["errors_5xx"] + r["errors_4xx"] for r in results) + len(server_5xx)
    print(f"lost (unanswered, or sent != logged by the server): {lost}; 4xx/5xx other than "
          f"refusals: {bad}; tracebacks in the server log: {tracebacks}")
    first, last = results[0], results[-1]
    if len(results) > 1:
        ratio = last["throughput"] / first["throughput"] if first["throughput"] else float("nan")
        print(f"RATIO concurrency: throughput N={last['clients']} / N={first['clients']} = "
              f"{last['throughput']:.3f} / {first['throughput']:.3f} = {ratio:.3f}; p95 latency "
              f"{last['p95']:.3f} s vs {first['p95']:.3f} s")
    else:
        print(f"RATIO concurrency: N={last['clients']}: {last['ok']}/{last['sent']} served, "
              f"{last['refused']} refused with 429/503 ({last['refused_retry_after']} with "
              f"Retry-After), {last['lost']} lost")
    return 0 if lost == 0 and bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
