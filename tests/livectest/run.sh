#!/bin/sh
# run.sh -- `livec test` (docs/testing.md), run by `make check` from the top
# build directory ($srcdir is the source):
#   - every game in games/ carries tests, and they all pass; so do the
#     tests of tests/livectest/pass-*.live;
#   - tests/livectest/wrong.live, whose tests expect the wrong things, fails
#     them: exit status 1 and exactly the report in wrong.expected (the FAIL
#     lines, the .live line, expected and actual, `1 passed, 14 failed`);
#   - test names select tests; an unknown name is a usage error (2);
#   - an error in a test block is an ordinary diagnostic (exit 1).
set -u
srcdir=${srcdir:-.}
top=$(cd "$srcdir" && pwd)
livec=$(pwd)/livec
work=$(mktemp -d "${TMPDIR:-/tmp}/livectest.XXXXXX")
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }

for game in "$top"/games/*.live "$top"/tests/livectest/pass-*.live; do
    name=$(basename "$game")
    "$livec" test "$game" >"$work/out" 2>&1
    status=$?
    last=$(tail -n 1 "$work/out")
    if [ "$status" -eq 0 ] && echo "$last" | grep -Eq '^[1-9][0-9]* passed, 0 failed$'; then
        ok "$name: $last"
    else
        bad "$name: exit $status, '$last' (must carry passing tests)"
        sed 's/^/# /' "$work/out"
    fi
done

# The report names the file as given: run from its directory.
cp "$top/tests/livectest/wrong.live" "$work/wrong.live"
cd "$work"
"$livec" test wrong.live >out 2>err
status=$?
[ "$status" -eq 1 ] && ok "wrong.live: failing tests exit 1" || bad "wrong.live: exit $status, want 1"
if diff -u "$top/tests/livectest/wrong.expected" out >diff; then
    ok "wrong.live: the report is exactly wrong.expected"
else
    bad "wrong.live: the report differs from wrong.expected"
    sed 's/^/# /' diff
fi
[ ! -s err ] && ok "wrong.live: nothing on stderr" || bad "wrong.live: stderr: $(cat err)"

"$livec" test wrong.live right "the wrong state" >out 2>&1
status=$?
if [ "$status" -eq 1 ] && [ "$(grep -c '^ok   right$' out)" -eq 1 ] &&
   [ "$(grep -c '^FAIL the wrong state$' out)" -eq 1 ] && [ "$(tail -n 1 out)" = "1 passed, 1 failed" ]; then
    ok "test names select tests"
else
    bad "test names select tests (exit $status)"
    sed 's/^/# /' out
fi
"$livec" test wrong.live nosuch >out 2>&1
status=$?
[ "$status" -eq 2 ] && grep -q "no test named 'nosuch'" out && ok "an unknown test name exits 2" \
    || bad "unknown test name: exit $status: $(cat out)"

printf 'game g { players 2; }\ngroup { n: int; }\ntest "t" {\n  expect group.m == 1;\n}\n' >bad.live
"$livec" test bad.live >out 2>&1
status=$?
[ "$status" -eq 1 ] && grep -q "^bad.live:4:16: error: " out && ok "an error in a test block is a diagnostic" \
    || bad "error in a test block: exit $status: $(cat out)"

[ "$fails" -eq 0 ] && exit 0 || exit 1
