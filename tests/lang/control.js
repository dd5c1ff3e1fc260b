// control.js -- behaviour of handlers and control flow (LANGUAGE.md §3, §4)
// on tests/lang/control.live, over HTTP + SSE with three players: on start,
// timers (short durations; start ... after re-arms; stop), now(), random()
// (and its record, the draws.csv export),
// send player(E) and several sends in statement order, for p in players
// with p.f / player(i).f assignment, fn helpers that send, insert, delete,
// require, reject and finish, break / continue / return;.
// Run by `make check` (compiler/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec node tests/lang/control.js
'use strict';
const {
  Server, adminState, admin, check, eq, http, isError, run, setup, sleep, csvRows, openStream,
} = require('./lib-lang.js');

async function main() {
  const g = await setup('control', 3);
  if (!g) return;
  const [p1, p2, p3] = g.players;

  // ---- on start, then on load ---------------------------------------------------
  const loads = [await p1.waitFor(() => true), await p2.waitFor(() => true), await p3.waitFor(() => true)];
  check('on start ran once per group before the first on load; it set player(1).f and p.f',
    eq(loads, [
      { started: 1, mark: 'first', page: 'live' },
      { started: 1, mark: 'other 2', page: 'live' },
      { started: 1, mark: 'other 3', page: 'live' },
    ]), JSON.stringify(loads));

  // ---- timers ----------------------------------------------------------------
  let m = await p1.ask({ type: 'arm', ms: 200 });
  check('start timer ... after msg.ms; now() is Unix time in ms', m && m.armed === 200 && m.now_ok === true,
    JSON.stringify(m));
  const t1 = await p2.waitFor((d) => d.tick === 1, 3000);
  check('on timer fires after the duration and its sends reach every player',
    t1 && t1.elapsed >= 200 && t1.elapsed < 2500, JSON.stringify(t1));
  let r = await p1.send({ type: 'rearm' });
  check('re-arming answers 200', r.status === 200, r.text);
  const t2 = await p1.waitFor((d) => d.tick === 2, 3000);
  check('start timer twice: the second (TICK / 2 = 100ms) replaces the first (60s)',
    t2 && t2.elapsed >= 100 && t2.elapsed < 2500, JSON.stringify(t2));
  r = await p1.send({ type: 'arm', ms: 300 });
  await sleep(100);
  r = await p1.send({ type: 'arm', ms: 300 });
  await sleep(700);
  const ticks = p3.msgs().filter((d) => d.tick !== undefined);
  check('arming again before it fired re-arms: one more tick, 300ms after the second arm',
    ticks.length === 3 && ticks[2].tick === 3 && ticks[2].elapsed >= 300, JSON.stringify(ticks));
  m = await p1.ask({ type: 'halt' });
  await sleep(450);
  check('stop timer: a stopped timer never fires', m && m.stopped === true &&
    !p1.msgs().some((d) => d.other), JSON.stringify(p1.msgs().slice(-2)));
  let st = await adminState(g.srv.base, g.session.code);
  check('no timer error to show yet', st && st.groups[0].error === null, JSON.stringify(st && st.groups[0].error));
  const tb = Date.now();
  r = await p1.send({ type: 'boom' });
  await sleep(300);
  st = await adminState(g.srv.base, g.session.code);
  const err = st && st.groups[0].error;
  check("a timer handler's runtime error is the group's error in the session state (for the monitor)",
    err && /^on timer crash: control\.live:179: division by zero$/.test(err.text) &&
    err.time >= tb && err.time <= Date.now(), JSON.stringify(err));
  r = await p1.send({ type: 'badload', set: 1 });
  const fresh = await openStream(g.srv.base, g.players[1].code, undefined, 'player 2, a fresh stream');
  await sleep(300);
  st = await adminState(g.srv.base, g.session.code);
  const lerr = st && st.groups[0].error;
  check("a runtime error in on load of a fresh stream is the group's error too",
    lerr && /^on load of player 2: control\.live:90: division by zero$/.test(lerr.text), JSON.stringify(lerr));
  fresh.close();
  r = await p1.send({ type: 'badload', set: 0 });

  // ---- random ------------------------------------------------------------------
  const draws = [];
  for (let k = 0; k < 4; k++) {
    m = await p1.ask({ type: 'draw' });
    if (m) draws.push(m);
  }
  const all = draws.flatMap((d) => d.draws);
  check('random(1, 6) draws are in 1..6, random(7, 7) is 7, random(-3, -1) in -3..-1',
    draws.length === 4 && all.every((x) => Number.isInteger(x) && x >= 1 && x <= 6) &&
    draws.every((d) => d.one === 7 && d.neg >= -3 && d.neg <= -1), JSON.stringify(draws));
  check('random draws vary (20 draws of 1..6 are not all equal)', new Set(all).size > 1, JSON.stringify(all));

  // ---- every draw is recorded: draws.csv -------------------------------------
  const base = g.srv.base, scode = g.session.code;
  r = await http(base, 'GET', `/api/sessions/${scode}/export/draws.csv`, undefined, admin);
  const dcsv = csvRows(r.text || '');
  const mr = await http(base, 'GET', `/api/sessions/${scode}/export/messages.csv`, undefined, admin);
  const mcsv = csvRows(mr.text || '');
  check('draws.csv has the header session,n,group,participant,message,lo,hi,value,time',
    r.status === 200 && eq(dcsv[0], ['session', 'n', 'group', 'participant', 'message', 'lo', 'hi', 'value', 'time']),
    r.text);
  // each `draw` message drew random(1, 6) five times, then random(7, 7), random(-3, -1)
  const want = draws.flatMap((d) => [...d.draws.map((v) => ['1', '6', v]), ['7', '7', 7], ['-3', '-1', d.neg]]);
  const rows = dcsv.slice(1);
  check('draws.csv holds every draw the players received, numbered 1, 2, 3 ... in order',
    rows.length === want.length && rows.every((c, i) => c[0] === scode && c[1] === String(i + 1) &&
      c[2] === '1' && c[3] === p1.code && c[5] === want[i][0] && c[6] === want[i][1] &&
      c[7] === String(want[i][2]) && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(c[8])),
    `${JSON.stringify(want)}\n${r.text}`);
  const rd = await http(base, 'GET', `/api/sessions/${scode}/export/random-draws.csv`, undefined, admin);
  check('random-draws.csv is the same file as draws.csv', rd.status === 200 && rd.text === r.text, rd.text);
  const msgOf = rows.map((c) => Number(c[4]));
  check("a draw's message is its row in messages.csv: one `draw` message per seven draws",
    mr.status === 200 && msgOf.length === 28 && [0, 7, 14, 21].every((k) => {
      const row = mcsv[msgOf[k]];
      return msgOf.slice(k, k + 7).every((x) => x === msgOf[k]) && (k === 0 || msgOf[k] > msgOf[k - 1]) &&
        row && row[1] === p1.code && row[2] === 'draw' && row[4] === 'accepted';
    }), `${JSON.stringify(msgOf)}\n${mr.text}`);

  // ---- sends: player(E), order --------------------------------------------------
  const before = [p1, p2, p3].map((p) => p.stream.events.length);
  r = await p1.send({ type: 'tell', to: 2 });
  await sleep(300);
  const got = [p1, p2, p3].map((p, i) => p.stream.events.slice(before[i]).map((e) => e.data));
  check('send player(E), me, others, all: each recipient gets its messages in statement order',
    r.status === 200 && eq(got, [
      [{ told: 2 }, { seq: 3 }],
      [{ from: 1, first: true }, { from: 1, second: true }, { seq: 1 }, { seq: 2 }, { seq: 3 }],
      [{ seq: 1 }, { seq: 2 }, { seq: 3 }],
    ]), JSON.stringify(got));
  r = await p1.send({ type: 'tell', to: 4 });
  await sleep(200);
  check('send player(4) of 3 rejects naming the line, and none of the sends happen',
    isError(r, 422, /^control\.live:129: .*4/) && p2.stream.events.length === before[1] + 5, r.text);

  // ---- loops ------------------------------------------------------------------------
  m = await p1.ask({ type: 'loop', n: 20 });
  check('continue skips, break ends the innermost loop; 3..1 runs nothing; return; ends the handler',
    eq(m, { visited: 4, sum: 16, down: 0 }), JSON.stringify(m));
  await sleep(200);
  check('nothing is sent after return;', !p1.msgs().some((d) => d.small), JSON.stringify(p1.msgs().slice(-2)));
  m = await p1.ask({ type: 'loop', n: 3 }, (d) => d.small);
  check('without return, the handler goes on', !!m, JSON.stringify(p1.msgs().slice(-2)));

  // ---- fn helpers -----------------------------------------------------------------
  const b2 = p2.stream.events.length;
  m = await p1.ask({ type: 'helper', what: 'send' });
  const m2 = await p2.waitFor((d) => d.text === 'hello from 1');
  check('a fn that loops over players, assigns p.f and sends to player(p.id)',
    eq(m, { text: 'hello from 1', got: 1 }) && eq(m2, { text: 'hello from 1', got: 1 }) &&
    p2.stream.events.length >= b2 + 1, JSON.stringify([m, m2]));
  m = await p1.ask({ type: 'helper', what: 'insert' });
  m = await p1.ask({ type: 'helper', what: 'insert' });
  check('a fn that inserts a row and returns count()',
    m && m.notes === 2 && eq(m.all.map((x) => x.id), [1, 2]) && m.all[1].author === 1, JSON.stringify(m));
  m = await p1.ask({ type: 'helper', what: 'clear' });
  check('a fn that deletes rows while looping over them', m && m.notes === 0, JSON.stringify(m));
  r = await p1.send({ type: 'helper', what: 'require' });
  check('require in a fn rejects the calling handler', isError(r, 422, /^not positive$/), r.text);
  r = await p1.send({ type: 'helper', what: 'reject' });
  check('reject in a fn, with a computed reason', isError(r, 422, /^too big: 101$/), r.text);
  r = await p1.send({ type: 'helper', what: 'finish' });
  check('finish in a fn answers 200', r.status === 200, r.text);
  const fin = await Promise.all([p1, p2, p3].map((p) => p.stream.waitFor(() => true, 3000, 'finish')));
  check('finish in a fn moves every player of the group on', fin.every((e) => !!e), JSON.stringify(fin));
  // finish takes effect at the statement: its event comes before the send
  // that follows it, and me.page already names the next page
  const after = await p1.stream.waitFor((d) => d && d.after_finish !== undefined, 3000);
  check('finish: its event is numbered before a later send, which sees the new page',
    after && fin[0] && Number(fin[0].id) < Number(after.id) && after.data.after_finish === 'finished',
    JSON.stringify([fin[0], after]));

  // the page change is stored: after kill -9 and a restart the players are
  // still on the finished page (the admin state and the page served say so)
  g.srv.kill();
  await sleep(200);
  const srv2 = new Server(g.bin, g.dir, g.srv.db);
  if (check('restart on the same database after kill -9', !!(await srv2.start()), srv2.stderr)) {
    const st = await adminState(srv2.base, g.session.code);
    const pages = st ? st.groups[0].players.map((p) => p.page) : null;
    check('finish survives a restart for every player of the group',
      eq(pages, ['finished', 'finished', 'finished']), JSON.stringify(pages));
    await srv2.stop();
  }
}

run(main);
