#!/usr/bin/env bash
# Every benchmark, bounded for a 2-core CPU (about 20-25 minutes in all). On a GPU machine
# they run on the GPU (TTS_DEVICE, default auto) in the server's precision.
# `make bench` runs this. Each script starts its own server on 127.0.0.1 and stops it.
#
#   BENCH_OUT=folder   also keep each script's output in folder/<name>.txt
#   PY=python          interpreter (default .venv/bin/python)
#   RTF_ARGS="..."     flags for bench.rtf (default: both base models, nfe 8, one round)
#   BENCH_TOTAL=1200   seconds for the whole run: bench.rtf gets what the others left (its
#                      --budget skips runs that would not fit)
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
export HF_HUB_OFFLINE=1
# Models and audio are built once and shared by the scripts.
BENCH_WORKDIR=$(mktemp -d -t tts-bench-XXXXXX)
export BENCH_WORKDIR
trap 'rm -rf "$BENCH_WORKDIR"' EXIT
RTF_ARGS=${RTF_ARGS:---models F5TTS_v1_Base E2TTS_Base --nfe 8 --rounds 1}
TOTAL=${BENCH_TOTAL:-1200}

failed=0
run() {  # run NAME LIMIT_SECONDS ARGS...: one script under a time limit, output kept
    local name=$1 limit=$2
    shift 2
    echo
    echo "################ $name ($*), limit ${limit}s"
    local started=$SECONDS status
    if [ -n "${BENCH_OUT:-}" ]; then
        mkdir -p "$BENCH_OUT"
        timeout --kill-after=30 "$limit" "$PY" "$@" 2>&1 | tee "$BENCH_OUT/$name.txt"
        status=${PIPESTATUS[0]}
    else
        timeout --kill-after=30 "$limit" "$PY" "$@"
        status=$?
    fi
    echo "################ $name: exit $status after $((SECONDS - started)) s"
    [ "$status" -eq 0 ] || failed=1
}

run overhead 360 -m bench.overhead
run cache 150 -m bench.cache
run concurrency 180 -m bench.concurrency
run concurrency-queue2 90 -m bench.concurrency --levels 8 --requests 3 --max-queue 2
run ttfa 300 -m bench.ttfa
run cancel 300 -m bench.cancel
run soak 420 -m bench.soak
run warmup 300 -m bench.warmup --starts 1
run contention 420 -m bench.contention --rounds 1
run normalize 300 -m bench.normalize --chunks 12 --chinese
run profile 120 -m bench.profile --model mid
left=$((TOTAL - SECONDS))
if [ "$left" -lt 120 ]; then left=120; fi
# shellcheck disable=SC2086  # RTF_ARGS is a list of flags
run rtf "$left" -m bench.rtf $RTF_ARGS --budget $((left - 30))

echo
echo "total: $SECONDS s"
exit $failed
