#!/bin/sh
# valgrind.sh -- valgrind memcheck over an end-to-end run (issue 5): builds
# games/counter.live with livec (-O1 -g), runs its server under memcheck,
# lets a client play (a session, event streams, accepted and rejected
# messages, a reconnection with Last-Event-ID, admin state and CSV, the
# Next button, a 413 and a 404), stops the server with SIGTERM, and fails
# unless memcheck reports no invalid access and no leak (definite or
# indirect) and the server exited 0.  Not part of `make check` (it takes a
# minute); .ci/sanitizers runs it.
# Usage: tests/reliability/valgrind.sh [--build-dir DIR]   (DIR holds ./livec)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=.
if [ "${1:-}" = "--build-dir" ]; then build=$2; fi
build=$(cd "$build" && pwd)
command -v valgrind >/dev/null || { echo "valgrind.sh: SKIP: no valgrind"; exit 77; }
command -v node >/dev/null || { echo "valgrind.sh: SKIP: no node"; exit 77; }
[ -x "$build/livec" ] || { echo "valgrind.sh: $build/livec not built" >&2; exit 2; }

work=$(mktemp -d /tmp/livec-valgrind.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
CFLAGS="-O1 -g" "$build/livec" "$src/games/counter.live"
valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --log-file="$work/memcheck.log" \
  ./counter --port 0 --db "$work/vg.sqlite3" --admin-password pw > "$work/out" 2>&1 &
pid=$!
i=0
until grep -q '^listening on' "$work/out" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
    cat "$work/out" "$work/memcheck.log" >&2
    echo "valgrind.sh: the server did not start" >&2
    exit 1
  fi
  sleep 0.1
done
base=$(sed -n 's|^listening on \(http://[^/]*\)/.*|\1|p' "$work/out")

BASE=$base LIB="$src/tests/e2e/lib.js" node -e '
const { http, Stream, admin, sleep } = require(process.env.LIB);
const base = process.env.BASE;
const fail = (m) => { console.error("valgrind.sh: client: " + m); process.exit(1); };
(async () => {
  let r = await http(base, "POST", "/api/sessions", { participants: 4 }, admin);
  if (r.status !== 201) fail("create session: " + r.status + " " + r.text);
  const s = r.json, [a, b] = s.participants;
  const sa = await new Stream(base, a.code).open(), sb = await new Stream(base, b.code).open();
  if (!(await sa.waitCount(1, 20000))) fail("no on load event");
  for (let i = 0; i < 40; i++) {
    r = await http(base, "POST", `/p/${i % 2 ? b.code : a.code}/live`, i % 5 ? { type: "add", amount: i + 1 } : { type: "note", text: "n\u00e9 " + i });
    if (r.status !== 200) fail("message " + i + ": " + r.status + " " + r.text);
  }
  for (const bad of ["{", "[1]", "{\"type\":\"add\",\"amount\":0}", "{\"type\":\"zz\"}", "x".repeat(70000)]) {
    r = await http(base, "POST", `/p/${a.code}/live`, bad);
    if (r.status < 400) fail("bad message accepted: " + r.status);
  }
  await sleep(300);
  const last = sa.lastEventId();
  sa.close();
  const re = await new Stream(base, a.code, 0).open();
  if (!(await re.waitCount(Number(last), 20000))) fail("replay incomplete");
  re.close();
  r = await http(base, "GET", `/api/sessions/${s.code}`, undefined, admin);
  if (r.status !== 200) fail("state: " + r.status);
  for (const n of ["players", "groups", "messages"]) {
    r = await http(base, "GET", `/api/sessions/${s.code}/export/${n}.csv`, undefined, admin);
    if (r.status !== 200) fail(n + ".csv: " + r.status);
  }
  r = await http(base, "GET", `/p/${a.code}`);
  if (r.status !== 200) fail("page: " + r.status);
  r = await http(base, "POST", `/p/${b.code}/next`, "");
  if (r.status !== 303) fail("next: " + r.status);
  r = await http(base, "GET", "/p/nosuchcode/events");
  if (r.status !== 404) fail("unknown stream: " + r.status);
  sb.close();
  await sleep(200);
  process.exit(0);
})().catch((e) => fail(e.stack));
'
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
if [ "$status" -ne 0 ] || [ -s "$work/memcheck.log" ]; then
  cat "$work/memcheck.log" >&2
  echo "valgrind.sh: FAILED: server exit status $status, memcheck report above" >&2
  exit 1
fi
echo "valgrind.sh: memcheck clean (no invalid access, no leak) over an end-to-end run"
