#!/bin/sh
# livec-cli.sh -- the livec command line (PROTOCOL.md "The compiler"):
# exit statuses, diagnostic format, --check, --emit-c, -o, usage errors and,
# when the runtime library is built, a real build of counter.live.
# Run from the top build directory (make check does); $srcdir is the source.
set -u
srcdir=${srcdir:-.}
top=$(cd "$srcdir" && pwd)
build=$(pwd)
livec=$build/livec
work=$(mktemp -d "${TMPDIR:-/tmp}/livec-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
fails=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; fails=$((fails + 1)); }
# expect STATUS DESCRIPTION CMD... : runs CMD, output in $work/out, checks status.
expect() {
    want=$1; what=$2; shift 2
    "$@" >"$work/out" 2>&1
    got=$?
    if [ "$got" -eq "$want" ]; then ok "$what"; else bad "$what (exit $got, want $want)"; sed 's/^/# /' "$work/out"; fi
}

expect 0 "--check on counter.live" "$livec" --check "$top/games/counter.live"
expect 0 "--check on tictactoe.live" "$livec" --check "$top/games/tictactoe.live"
[ ! -s "$work/out" ] && ok "--check on a good file prints nothing" || bad "--check printed: $(cat "$work/out")"

cp "$top/tests/bad/sem_assign_type.live" "$work/bad.live"
cd "$work"
expect 1 "--check on a bad file exits 1" "$livec" --check bad.live
grep -q "^bad.live:4:25: error: cannot assign 'string' to 'int' field 'total'$" out \
    && ok "diagnostic header format" || bad "diagnostic header format: $(cat out)"
grep -q "^   4 | on load { group.total = \"ten\"; }$" out && ok "diagnostic quotes the line" || bad "source line"
grep -q "^     |                         ^~~~~$" out && ok "diagnostic caret" || bad "caret: $(cat out)"
printf 'game g {\n  players 2\n}\n' > syn.live
expect 1 "a syntax error exits 1" "$livec" --check syn.live
# every error in the file is reported: a type error in another declaration
# beside a syntax error, but not what the syntax error may have caused
printf '%s\n' 'game g { players 2; }' 'group { n: int = 0; }' 'message m { a: int; }' \
    'on m {' '  let k = msg.a' '  group.n = k;' '}' 'on load { group.n = "x"; }' > mixed.live
expect 1 "a syntax error and a type error exit 1" "$livec" --check mixed.live
grep -q "^mixed.live:5:16: error: expected ';'" out && grep -q "^mixed.live:8:21: error: cannot assign 'string'" out \
    && [ "$(grep -c ': error: ' out)" -eq 2 ] \
    && ok "both errors, and no error caused by the syntax error" || bad "mixed errors: $(cat out)"
# an unknown name is left out only when the declarations with syntax errors
# mention it (they may have declared it): a typo elsewhere is reported
printf '%s\n' 'game g { players 2; }' 'player { x: int = None; }' 'message m { a: int; }' \
    'on m {' '  let k = msg.a +;' '}' 'const LIMIT = 5' 'on load { me.x = LIMIT; }' > names.live
expect 1 "syntax errors and unknown names" "$livec" --check names.live
grep -q "^names.live:2:19: error: unknown constant 'None'$" out \
    && ! grep -q "LIMIT'" out && [ "$(grep -c ': error: ' out)" -eq 3 ] \
    && ok "a typo beside a syntax error is reported, a name the broken declaration holds is not" \
    || bad "unknown names after a syntax error: $(cat out)"

# Line ends: a lone CR (old Mac files) ends a line as LF and CRLF do.  A
# `//` comment stops there (it once ran to the end of the file, so this
# file compiled with nothing after its first comment), lines are counted
# (every diagnostic was on line 1) and the quoted line stops there.
printf 'game g { players 1; } // the game\rgroup { n: int; }\rmessage m { }\ron m { group.n += "x"; }\r' > cr.live
expect 1 "CR line ends: the error after a // comment is found" "$livec" --check cr.live
grep -q "^cr.live:4:8: error: operator '+=' cannot be applied to 'int' and 'string'$" out \
    && ok "... on line 4, column 8" || bad "CR line ends: $(cat out)"
grep -q '^   4 | on m { group.n += "x"; }$' out && ok "... quoting line 4 alone, without its CR" \
    || bad "CR quoted line: $(od -c out | head -20)"
# LF, CRLF (one line end) and CR mixed, in a block comment too
printf 'game g { players 1; }\r\n/* a\rb\r\nc */ group { n: int; }\r\rmessage m { }\ron m { group.n = "x"; }\r\n' > eol.live
expect 1 "mixed line ends" "$livec" --check eol.live
grep -q "^eol.live:7:18: error: cannot assign 'string' to 'int' field 'n'$" out \
    && ok "... CRLF counts once, CR and LF each once, in comments too" || bad "mixed line ends: $(cat out)"
# the recovery after a syntax error finds the same errors with CR line ends
# (it looked for LF only: one declaration swallowed the rest of the file)
printf 'game g { players 2; }\ngroup { n: int = 0; }\non load {\n  group.n = 1 +;\n}\nmessage m { a: int b: int; }\non m { group.n = ; }\n' > lf.live
tr '\n' '\r' < lf.live > crr.live
"$livec" --check lf.live 2>&1 | grep 'error:' | sed 's/^lf.live//' > lf.out
"$livec" --check crr.live 2>&1 | grep 'error:' | sed 's/^crr.live//' > crr.out
[ "$(wc -l < lf.out)" -eq 3 ] && cmp -s lf.out crr.out && ok "CR line ends: syntax errors recovered as with LF" \
    || bad "CR recovery: $(cat lf.out crr.out)"
# the generated C quotes each statement of a CR-only file
printf 'game crq { players 1; }\rgroup { n: int = 0; }\rmessage m { }\ron m { group.n += 1; }\r' > crq.live
"$livec" --emit-c -o - crq.live 2>&1 | grep -q '^/\* crq.live:4: on m { group.n += 1; } \*/$' \
    && ok "CR line ends: the C quotes the statement" || bad "CR quote: $("$livec" --emit-c -o - crq.live 2>&1 | grep crq.live)"

# A template must be a regular file: a FIFO once hung livec (waiting for a
# writer); /dev/zero and directories: tests/bad/sem_template_not_regular.live.
if mkfifo fifo.html 2>/dev/null; then
    printf 'game g { players 1; }\npage p { template "fifo.html"; }\n' > fifo.live
    timeout 20 "$livec" --check fifo.live > out 2>&1
    st=$?
    [ "$st" -eq 1 ] && grep -q "^fifo.live:2:19: error: template 'fifo.html' is not a regular file$" out \
        && ok "a FIFO as template is an error at the template, not a hang" \
        || bad "FIFO template: exit $st (124: it hung): $(cat out)"
else
    echo "ok - # SKIP FIFO template: mkfifo failed"
fi

# At most 1000 fields per group/player/table/message (LIVE_MAX_FIELDS): each
# is an SQLite column, and SQLite's limit is 2000 per table; 10,000 group
# fields once compiled and the server then exited "too many columns".
fields() { awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "  f%d: int;\n", i }'; }
{ printf 'game g { players 1; }\ngroup {\n'; fields 1000; printf '}\ntable t {\n'; fields 1000
  printf '}\nmessage m {\n'; fields 1000; printf '}\non m { }\n'; } > f1000.live
expect 0 "1000 fields in a group, a table and a message are fine" "$livec" --check f1000.live
{ printf 'game g { players 1; }\ngroup {\n'; fields 1001; printf '}\ntable t {\n'; fields 1001
  printf '}\nmessage m {\n'; fields 1001; printf '}\non m { }\n'; } > f1001.live
expect 1 "a 1001st field is an error" "$livec" --check f1001.live
grep -q "^f1001.live:1003:3: error: too many fields in the group block: at most 1000$" out \
    && grep -q "^f1001.live:2006:3: error: too many fields in table 't': at most 1000$" out \
    && grep -q "^f1001.live:3009:3: error: too many fields in message 'm': at most 1000$" out \
    && [ "$(grep -c ': error: ' out)" -eq 3 ] \
    && ok "... at the field over the limit, once per block" || bad "1001 fields: $(cat out)"

# A string literal can be no longer than a string value (1 MiB, live.h
# LV_STRING_MAX); one byte more once compiled and was assigned without error.
strlit() { printf 'game g { players 1; }\nconst S = "'; head -c "$1" /dev/zero | tr '\0' a; printf '";\n'; }
strlit 1048576 > str1m.live
expect 0 "a string literal of 1 MiB is fine" "$livec" --check str1m.live
strlit 1048577 > str1m1.live
expect 1 "a string literal of 1 MiB + 1 byte is an error" "$livec" --check str1m1.live
grep -q "^str1m1.live:2:11: error: string literal is longer than 1 MiB (1048576 bytes), the limit of a string value$" out \
    && ok "... at the literal" || bad "long literal: $(head -c 300 out)"

expect 2 "unknown option exits 2" "$livec" --frobnicate x.live
grep -q "^livec: unknown option '--frobnicate'" out && [ "$(wc -l < out)" -eq 1 ] \
    && ok "unknown option: one clear line" || bad "unknown option message: $(cat out)"
expect 2 "no input file exits 2" "$livec"
expect 2 "missing file exits 2" "$livec" --check does-not-exist.live
grep -q "^livec: cannot read 'does-not-exist.live'" out && ok "missing file message" || bad "missing file message: $(cat out)"
expect 2 "-o without a name exits 2" "$livec" counter.live -o
expect 2 "livec test without a file exits 2" "$livec" test
expect 1 "livec test on a bad file exits 1" "$livec" test bad.live
grep -q "^bad.live:4:25: error: " out && ok "livec test reports diagnostics" || bad "livec test diagnostics: $(cat out)"
expect 0 "--help" "$livec" --help
grep -q "^usage: livec" out && ok "--help prints usage" || bad "--help output"
expect 0 "--version" "$livec" --version

cp "$top/games/counter.live" "$work/counter.live"
expect 0 "--emit-c writes NAME.c" "$livec" --emit-c counter.live
[ -s counter.c ] && head -1 counter.c | grep -q "^/\* Generated by livec from counter.live. DO NOT EDIT. \*/$" \
    && ok "NAME.c has the banner" || bad "NAME.c missing or no banner"
expect 0 "--emit-c -o" "$livec" --emit-c -o other.c counter.live
cmp -s counter.c other.c && ok "-o writes the same C" || bad "-o C differs"
expect 0 "--emit-c -o - writes stdout" "$livec" --emit-c -o - counter.live
cmp -s counter.c out && ok "stdout C is the same" || bad "stdout C differs"
# --line-directives: the `#line` that returns to the C file names the file
# being written (gdb looks for it there)
expect 0 "--emit-c --line-directives -o" "$livec" --emit-c --line-directives -o lines.c counter.live
grep -q '^#line [0-9]* "counter.live"$' lines.c && grep -q '^#line [0-9]* "lines.c"$' lines.c \
    && ! grep -q '"counter.c"' lines.c \
    && ok "#line names counter.live and lines.c" || bad "#line does not name lines.c"

# Random garbage never crashes livec: status 1 (or 0), never a signal.
i=0
while [ $i -lt 20 ]; do
    head -c 300 /dev/urandom > junk.live
    "$livec" --check junk.live >/dev/null 2>&1
    st=$?
    [ $st -le 2 ] || { bad "garbage input crashed livec (status $st)"; cp junk.live "crash-$i.live"; }
    i=$((i + 1))
done
ok "garbage input does not crash"

# A chain of 100,000 '+' is past the nesting limit: one error (exit 1), and
# nothing walks the too-deep tree (sema once overflowed the stack on it).
{ printf 'game g { players 1; }\nmessage m {}\non m { let x = 1'
  awk 'BEGIN { for (i = 0; i < 100000; i++) printf " + 1" }'
  printf '; }\n'; } > deep.live
expect 1 "an expression 100,000 deep is an error, not a crash" "$livec" --check deep.live
grep -q 'expression nested too deeply' out && [ "$(wc -c < out)" -lt 2000 ] \
    && ok "... reported once, the 400 KB line quoted in part" || bad "deep: $(head -c 300 out)"

# A real build needs the runtime library.
if [ -f "$build/runtime/libliveruntime.a" ] || [ -n "${LIVEC_RUNTIME_DIR:-}" ]; then
    expect 0 "livec counter.live builds ./counter" "$livec" counter.live
    expect 2 "-o into a directory that does not exist exits 2" "$livec" -o no/such/dir/x counter.live
    grep -q "^livec: cannot write 'no/such/dir/x'" out && ! grep -q "livec bug" out \
        && ok "... saying it cannot write there, not blaming livec" || bad "-o: $(cat out)"
    # The output path is the user's: an error naming it and the system's
    # reason, exit 2 (these once said "internal error ... a livec bug").
    expect 2 "-o /proc/version exits 2" "$livec" -o /proc/version counter.live
    grep -q "^livec: cannot write '/proc/version': " out && ! grep -q "livec bug\|internal error" out \
        && [ "$(wc -l < out)" -eq 1 ] && ok "... with one line naming the path" || bad "-o /proc/version: $(cat out)"
    expect 2 "-o '' exits 2" "$livec" -o '' counter.live
    grep -q "^livec: cannot write '': No such file or directory$" out && [ "$(wc -l < out)" -eq 1 ] \
        && ok "... with one clear line" || bad "-o '': $(cat out)"
    # The temporary files' names do not depend on the game's name.
    long=$(awk 'BEGIN { for (i = 0; i < 300; i++) printf "a" }')
    sed "s/^game counter /game $long /" counter.live > long.live
    expect 0 "a 300-character game name builds with -o" "$livec" -o longgame long.live
    [ -x longgame ] && ok "... into the -o file" || bad "longgame was not written"
    expect 0 "... and its tests run" "$livec" test long.live
    expect 2 "... without -o, the binary's name is too long for a file: exit 2" "$livec" long.live
    grep -q "^livec: cannot write '$long': File name too long$" out \
        && ok "... saying so" || bad "long name without -o: $(cat out)"
    # A binary built in another file system's TMPDIR is copied to OUT.
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then
        expect 0 "TMPDIR=/dev/shm builds" env TMPDIR=/dev/shm "$livec" -o shmgame counter.live
        [ -x shmgame ] && ./shmgame --help 2>&1 | grep -q "^usage:" && ok "... an executable that runs" \
            || bad "TMPDIR=/dev/shm: shmgame missing or broken"
    fi
    expect 2 "a C compiler that cannot run exits 2" env CC=no-such-cc "$livec" counter.live
    grep -q "^livec: cannot run the C compiler 'no-such-cc'; set CC" out \
        && ok "... naming CC" || bad "CC: $(cat out)"
    expect 2 "a C compiler that fails (CC=false) exits 2" env CC=false "$livec" counter.live
    grep -q "CC or CFLAGS is set" out && ! grep -q "internal error" out \
        && ok "... pointing at CC, not at a livec bug" || bad "CC=false: $(cat out)"
    if [ -x counter ]; then
        ok "./counter is executable"
        : > srv.out
        ./counter --port 0 --db "$work/c.sqlite3" --admin-password pw > srv.out 2>&1 &
        pid=$!
        n=0
        while [ $n -lt 50 ] && ! grep -q "listening on http://" srv.out; do sleep 0.1; n=$((n + 1)); done
        grep -q "listening on http://" srv.out && ok "./counter starts and listens" || bad "./counter did not start: $(cat srv.out)"
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    else
        bad "./counter was not written"
    fi
    # A game's own server on a real database: names that SQLite folds
    # together (a/A, offer/Offer) or that clash with the runtime's columns
    # (gid/f_gid) are kept apart, survive a restart and export under their
    # .live names (the server once exited "duplicate column name").
    start_server() {    # BINARY DB: sets pid and url
        : > srv.out
        "./$1" --port 0 --db "$2" --admin-password pw > srv.out 2>&1 &
        pid=$!
        n=0
        while [ $n -lt 50 ] && ! grep -q "listening on http://" srv.out; do sleep 0.1; n=$((n + 1)); done
        url=$(grep -o 'http://[^/]*' srv.out | head -1)
    }
    stop_server() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
    if command -v curl >/dev/null 2>&1; then
        expect 0 "pass-dbnames.live builds" "$livec" -o dbnames "$top/tests/livectest/pass-dbnames.live"
        start_server dbnames "$work/names.sqlite3"
        [ -n "$url" ] && ok "... and its server starts" || bad "dbnames server: $(cat srv.out)"
        s=$(curl -s -H 'Authorization: Bearer pw' -d '{"participants": 1}' "$url/api/sessions")
        S=$(printf '%s' "$s" | sed -n 's/^{"code": *"\([a-z0-9]*\)".*/\1/p')
        P=$(printf '%s' "$s" | sed -n 's/.*"participants": *\[{"code": *"\([a-z0-9]*\)".*/\1/p')
        r1=$(curl -s -d '{"type": "play", "v": 10}' "$url/p/$P/live")
        stop_server
        start_server dbnames "$work/names.sqlite3"
        r2=$(curl -s -d '{"type": "play", "v": 20}' "$url/p/$P/live")
        [ "$r1" = '{"ok":true}' ] && [ "$r2" = '{"ok":true}' ] && ok "... it plays, before and after a restart" \
            || bad "dbnames play: '$r1' '$r2' $(cat srv.out)"
        csv() { curl -s -H 'Authorization: Bearer pw' "$url/api/sessions/$S/export/$1.csv" | tr -d '\r'; }
        want=$(printf 'session,group,a,A,gid,f_gid,Id,n\n%s,1,20,21,22,23,I,2' "$S")
        [ "$(csv groups)" = "$want" ] && ok "... groups.csv: a, A, gid, f_gid kept apart" || bad "groups.csv: $(csv groups)"
        want=$(printf 'session,participant,group,id_in_group,page,code,f_code,x,X\n%s,%s,1,1,live,24,25,26,27' "$S" "$P")
        [ "$(csv players)" = "$want" ] && ok "... players.csv: code, f_code, x, X kept apart" || bad "players.csv: $(csv players)"
        want=$(printf 'session,group,id,x,X\n%s,1,1,10,18\n%s,1,2,20,28' "$S" "$S")
        [ "$(csv offer)" = "$want" ] && ok "... offer.csv" || bad "offer.csv: $(csv offer)"
        want=$(printf 'session,group,id,y\n%s,1,1,19\n%s,1,2,29' "$S" "$S")
        [ "$(csv Offer)" = "$want" ] && ok "... Offer.csv, a table apart from offer" || bad "Offer.csv: $(csv Offer)"
        stop_server
    else
        echo "ok - # SKIP pass-dbnames.live on a real database: no curl"
    fi

    # 1000 fields (the limit) in each of group, player and table: the server
    # creates its tables (each under SQLite's 2000 columns) and starts.
    { printf 'game g { players 1; }\ngroup {\n'; fields 1000; printf '}\nplayer {\n'; fields 1000
      printf '}\ntable t {\n'; fields 1000; printf '}\n'; } > f1000g.live
    expect 0 "a game with 1000 group, player and table fields builds" "$livec" -o f1000g f1000g.live
    start_server f1000g "$work/f1000.sqlite3"
    [ -n "$url" ] && ok "... and its server starts" || bad "1000 fields: $(cat srv.out)"
    stop_server

    expect 0 "-o names the binary" "$livec" -o mygame counter.live
    [ -x mygame ] && ok "-o binary exists" || bad "-o binary missing"
    if [ -f "$build/runtime/libliveruntime.a" ]; then
        mkdir -p rt-no-testing
        cp "$top/runtime/live.h" "$build/runtime/libliveruntime.a" rt-no-testing/
        expect 2 "livec test without the runtime's testing.h exits 2" \
            env LIVEC_RUNTIME_DIR="$work/rt-no-testing" "$livec" test counter.live
        grep -q "has no testing.h, which 'livec test' needs" out && [ "$(wc -l < out)" -eq 1 ] \
            && ok "... with one clear line" || bad "testing.h message: $(cat out)"
    fi
else
    echo "ok - # SKIP build of counter.live: runtime/libliveruntime.a is not built yet"
fi

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
exit 0
