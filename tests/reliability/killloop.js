// killloop.js -- durability under SIGKILL (issue 5, PROTOCOL.md "It reopens
// an existing database and carries on where it stopped").
//
// Builds games/counter.live, creates a session of PARTICIPANTS players, and
// then, ROUNDS times in a row: starts the server on the same database,
// reconnects every participant's event stream with Last-Event-ID (the first
// round opens fresh streams), floods it with `add` messages from several
// concurrent loops per participant, and kills it with SIGKILL at a random
// moment while requests are in flight.  A last start then checks:
//   - every acknowledged message's effect is there: for each participant,
//     acked <= clicks <= acked + unanswered (an unanswered request may or may
//     not have committed), and each group's total is the sum of the amounts
//     of its committed adds (amounts are chosen so that the sum tells them
//     apart: every add of participant k carries amount k+1);
//   - each participant's sequence numbers, read from a Last-Event-ID: 0
//     replay, are 1, 2, 3 ... with no gap and no repeat, and the number of
//     add events equals the number of committed adds of the group;
//   - everything a stream received live across all the reconnections is a
//     prefix of that replay, event for event (nothing delivered was lost,
//     nothing was delivered twice, no event was delivered before it was
//     committed);
//   - the totals in the replayed events rise by exactly the amounts added.
//
// Environment: LIVEC, GAMES (as tests/e2e/lib.js), KILL_ROUNDS (default 5),
// KILL_PARTICIPANTS (default 6, a multiple of 2), KILL_LOOPS (concurrent
// request loops per participant, default 2), KILL_SEED (random seed).
// Run by `make check` (tests/reliability/Makefile.inc) and, longer, by
// bench/reliability/killloop.
'use strict';
const path = require('path');
const {
  admin, sleep, check, run, tmpdir, compile, Server, http, newSession, Stream,
} = require(path.join(__dirname, '..', 'e2e', 'lib.js'));

const ROUNDS = Number(process.env.KILL_ROUNDS || 5);
const PARTICIPANTS = Number(process.env.KILL_PARTICIPANTS || 6);
const LOOPS = Number(process.env.KILL_LOOPS || 2);
/* A round floods the server for a random time in [LOAD_MIN_MS, LOAD_MAX_MS)
 * before the kill. */
const LOAD_MIN_MS = 150;
const LOAD_MAX_MS = 700;
/* How long the final replay of one participant may take to arrive. */
const REPLAY_MS = 8000;

/* A small seeded PRNG (mulberry32), so that a failing run can be repeated
 * with the seed it prints. */
let seed = Number(process.env.KILL_SEED || (Date.now() % 2147483647));
function rand() {
  seed = (seed + 0x6D2B79F5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

async function stateOf(base, code) {
  const r = await http(base, 'GET', `/api/sessions/${code}`, undefined, admin);
  return r.status === 200 && r.json ? r.json : null;
}

async function main() {
  // a flood from few participants: the message rate limit is not under test
  process.env.LIVE_RATE = process.env.LIVE_RATE || '0';
  console.log(`# seed ${seed}, ${ROUNDS} rounds, ${PARTICIPANTS} participants, ${LOOPS} loops each`);
  const dir = tmpdir('killloop');
  const bin = compile('counter', dir);
  if (!bin) return;
  const db = path.join(dir, 'kill.sqlite3');

  let srv = new Server(bin, dir, db);
  if (!check('server starts', await srv.start(), srv.stderr)) return;
  const session = await newSession(srv.base, PARTICIPANTS);
  if (!session) return;
  const people = session.participants.map((p, k) => ({
    code: p.code, group: p.group, amount: k + 1,
    acked: 0, unknown: 0, other: 0,
    seen: [],            // events received live, across reconnections
    lastId: undefined,   // Last-Event-ID for the next connection
    stream: null,
  }));

  let unexpected = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (round > 1) {
      srv = new Server(bin, dir, db);
      if (!check(`round ${round}: server restarts on the killed database`, await srv.start(),
        srv.stderr)) return;
    }
    const base = srv.base;
    // (re)connect every stream where it stopped
    for (const p of people) {
      p.stream = new Stream(base, p.code, p.lastId);
      await p.stream.open();
      if (p.stream.status !== 200) {
        check(`round ${round}: stream of ${p.code} opens`, false, `${p.stream.status} ${p.stream.error}`);
        return;
      }
      // the first, fresh stream gets on load's event: have it before the
      // kill, so that every later connection is a Last-Event-ID one
      if (p.lastId === undefined && !(await p.stream.waitCount(1))) {
        check(`round ${round}: on load reaches ${p.code}`, false, JSON.stringify(p.stream.events));
        return;
      }
    }
    // flood
    let stop = false;
    const loop = async (p) => {
      while (!stop) {
        const r = await http(base, 'POST', `/p/${p.code}/live`, { type: 'add', amount: p.amount });
        if (r.status === 200 && r.json && r.json.ok === true) p.acked++;
        else if (r.status === 0) { p.unknown++; return; }   // killed under it
        else { p.other++; unexpected.push(`${r.status} ${r.text}`); }
      }
    };
    const loops = [];
    for (const p of people) for (let i = 0; i < LOOPS; i++) loops.push(loop(p));
    await sleep(LOAD_MIN_MS + rand() * (LOAD_MAX_MS - LOAD_MIN_MS));
    srv.kill();
    await new Promise((r) => { if (!srv.alive()) r(); else srv.proc.once('exit', r); });
    stop = true;
    await Promise.all(loops);
    // what the streams saw before the kill
    for (const p of people) {
      const s = p.stream;
      for (let i = 0; i < 20 && !s.ended; i++) await sleep(10);   // the socket closed: read what came
      s.close();
      for (const e of s.events) p.seen.push(e);
      if (s.events.length) p.lastId = Number(s.lastEventId());
    }
  }
  check('no request was answered other than 200 or not at all', unexpected.length === 0,
    unexpected.slice(0, 5).join(' | '));
  const totalAcked = people.reduce((a, p) => a + p.acked, 0);
  check(`load ran: ${totalAcked} messages acknowledged over ${ROUNDS} kills`, totalAcked > ROUNDS,
    JSON.stringify(people.map((p) => p.acked)));

  // ---- the final start: check everything --------------------------------
  srv = new Server(bin, dir, db);
  if (!check('server starts after the last kill', await srv.start(), srv.stderr)) return;
  const base = srv.base;
  const st = await stateOf(base, session.code);
  if (!check('the session state is readable', st && Array.isArray(st.groups), JSON.stringify(st))) return;
  const clicks = new Map();
  const totals = new Map();
  for (const g of st.groups) {
    totals.set(g.id, g.fields.total);
    for (const pl of g.players) clicks.set(pl.code, pl.fields.clicks);
  }
  const effectBad = people.filter((p) => {
    const c = clicks.get(p.code);
    return !(c >= p.acked && c <= p.acked + p.unknown);
  });
  check('every acknowledged add is in effect (acked <= clicks <= acked + unanswered)',
    effectBad.length === 0,
    JSON.stringify(effectBad.map((p) => ({ code: p.code, acked: p.acked, unknown: p.unknown, clicks: clicks.get(p.code) }))));
  const totalBad = [];
  for (const [gid, total] of totals) {
    const sum = people.filter((p) => p.group === gid).reduce((a, p) => a + p.amount * clicks.get(p.code), 0);
    if (sum !== total) totalBad.push({ gid, total, sum });
  }
  check('each group total is exactly the sum of its committed adds (nothing half-applied)',
    totalBad.length === 0, JSON.stringify(totalBad));

  // ---- replay from 0 ------------------------------------------------------
  let seqBad = [], prefixBad = [], countBad = [], riseBad = [];
  for (const p of people) {
    const s = new Stream(base, p.code, 0);
    await s.open();
    const groupAdds = people.filter((q) => q.group === p.group).reduce((a, q) => a + clicks.get(q.code), 0);
    const expect = 1 /* on load of the first fresh stream */ + groupAdds;
    await s.waitCount(expect, REPLAY_MS);
    await sleep(100);
    s.close();
    const ids = s.ids();
    if (!(ids.length === expect && ids.every((v, i) => v === i + 1)))
      seqBad.push({ code: p.code, expect, got: ids.length, ids: ids.slice(0, 10), last: ids.slice(-3) });
    const adds = s.events.filter((e) => e.data && e.data.by !== undefined);
    if (adds.length !== groupAdds) countBad.push({ code: p.code, adds: adds.length, groupAdds });
    // totals rise by one member's amount at each add event
    let prev = 0;
    for (const e of adds) {
      const by = people.find((q) => q.group === p.group && q.amount === e.data.total - prev);
      if (!by) { riseBad.push({ code: p.code, id: e.id, prev, total: e.data.total }); break; }
      prev = e.data.total;
    }
    if (prev !== totals.get(p.group)) riseBad.push({ code: p.code, last: prev, total: totals.get(p.group) });
    // what was seen live is the replay's prefix
    const live = p.seen.map((e) => `${e.id}:${JSON.stringify(e.data)}`);
    const rep = s.events.map((e) => `${e.id}:${JSON.stringify(e.data)}`);
    if (!live.every((v, i) => v === rep[i]))
      prefixBad.push({ code: p.code, live: live.length, firstDiff: live.findIndex((v, i) => v !== rep[i]) });
  }
  check('Last-Event-ID: 0 replays ids 1, 2, 3 ... with no gap and no repeat, one per committed event',
    seqBad.length === 0, JSON.stringify(seqBad));
  check('each participant has exactly one add event per committed add of its group',
    countBad.length === 0, JSON.stringify(countBad));
  check('the replayed totals rise by exactly the amounts added', riseBad.length === 0, JSON.stringify(riseBad));
  check('every event received live across the kills is the replay, in order, none twice',
    prefixBad.length === 0, JSON.stringify(prefixBad));

  // ---- the server still works after all that ------------------------------
  const r = await http(base, 'POST', `/p/${people[0].code}/live`, { type: 'add', amount: 1 });
  check('the restarted server accepts messages', r.status === 200, `${r.status} ${r.text}`);
  const stop = await srv.stop('SIGTERM');
  check('SIGTERM ends it with status 0', stop && stop.code === 0, JSON.stringify(stop));
}

run(main);
