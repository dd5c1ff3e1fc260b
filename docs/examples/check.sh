#!/bin/sh
# check.sh -- `make check` for the runnable examples of docs/language.md.
# For every docs/examples/*.live it runs `livec test` (docs/testing.md) and
# requires exit status 0 and a last line `N passed, 0 failed` with N >= 1:
# a failing test fails the check, and so does a file without any test.
# Then it builds each example into a game server (`livec -o`), starts it on
# 127.0.0.1 with --port 0 and a throw-away database, and requires its first
# player's page (`GET /p/CODE`) to answer 200 -- what `livec NN.live &&
# ./NAME` shows in a browser.  That part is skipped when curl is missing.
#
# Run from the top build directory, as the serial harness does
# (TESTS_ENVIRONMENT in tests/Makefile.inc: LIVEC=./livec, srcdir=...).
# TAP-like output: `ok - ...` / `not ok - ...`; exit 0 when all passed.
set -u
srcdir=${srcdir:-.}
top=$(cd "$srcdir" && pwd)
livec=${LIVEC:-./livec}
case $livec in /*) ;; *) livec=$(pwd)/$livec ;; esac
examples="$top/docs/examples"
work=$(mktemp -d "${TMPDIR:-/tmp}/docsexamples.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fails=0
count=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }

# A server should print its first line well within this many tenths of a second.
START_TENTHS=100

have_curl=yes
command -v curl >/dev/null 2>&1 || have_curl=

for file in "$examples"/*.live; do
    [ -e "$file" ] || { bad "no examples in $examples"; break; }
    count=$((count + 1))
    name=$(basename "$file")

    # 1. its tests pass, and it has some
    (cd "$examples" && "$livec" test "$name") >"$work/out" 2>&1
    status=$?
    last=$(tail -n 1 "$work/out")
    if [ "$status" -eq 0 ] && echo "$last" | grep -Eq '^[1-9][0-9]* passed, 0 failed$'; then
        ok "$name: $last"
    else
        bad "$name: exit $status, '$last' (every example must carry passing tests)"
        sed 's/^/# /' "$work/out"
        continue
    fi

    # 2. it builds into a server that serves its first player's page
    [ -n "$have_curl" ] || continue
    if ! "$livec" -o "$work/game" "$file" >"$work/out" 2>&1; then
        bad "$name: livec failed to build it"
        sed 's/^/# /' "$work/out"
        continue
    fi
    rm -f "$work/game.db"
    : >"$work/log"
    "$work/game" --port 0 --db "$work/game.db" --admin-password docs-check \
        >"$work/log" 2>&1 &
    server_pid=$!
    url=
    tries=0
    while [ "$tries" -lt "$START_TENTHS" ]; do
        url=$(sed -n 's/^player 1: \(http[^ ]*\)$/\1/p' "$work/log")
        [ -n "$url" ] && break
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
        tries=$((tries + 1))
    done
    if [ -z "$url" ]; then
        bad "$name: the server printed no player URL"
        sed 's/^/# /' "$work/log"
    else
        code=$(curl -s -o "$work/page" -w '%{http_code}' "$url")
        if [ "$code" = 200 ] && grep -q '/live.js' "$work/page"; then
            ok "$name: the server shows player 1 its page"
        else
            bad "$name: GET $url answered $code"
        fi
    fi
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
done

[ "$count" -gt 0 ] && echo "# $count examples"
[ "$fails" -eq 0 ] && exit 0 || exit 1
