#!/bin/sh
# `pip check` for the environment whose python is $1, accepting only what
# requirements-nodeps.txt explains: resemblyzer's requirements on webrtcvad (provided by
# webrtcvad-wheels) and typing (the stdlib). Anything else broken fails.
set -eu
report=$("$1" -m pip check 2>&1) || true
broken=$(printf '%s\n' "$report" \
    | grep -v -E '^resemblyzer [^ ]+ requires (webrtcvad|typing), which is not installed\.$' \
    | grep -v -E '^No broken requirements found\.$' | grep -v '^$' || true)
if [ -n "$broken" ]; then
    printf '%s\n' "$broken" >&2
    exit 1
fi
