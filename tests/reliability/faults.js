// faults.js -- storage failures end to end (issue 5): disk full, I/O error
// and a database locked by another process.  Each must answer the message
// 503 with a reason, apply nothing of it (no state change, no event, no
// sequence number used), keep the server serving, and let it recover as
// soon as the fault is gone.
//
// Disk full and I/O errors come from the LIVE_TEST_FAULTS test hook
// (runtime/faults.c): the server's SQLite writes fail while the file it
// names holds "full" or "ioerr".  "Busy" is real: a sqlite3 shell holds the
// database's write lock (BEGIN IMMEDIATE) longer than the server's busy
// timeout, and is skipped when there is no sqlite3 program.
// Environment: LIVEC, GAMES (as tests/e2e/lib.js).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const {
  admin, QUIET_MS, sleep, check, run, tmpdir, compile, Server, http, newSession, openStream,
  isError, consecutive,
} = require(path.join(__dirname, '..', 'e2e', 'lib.js'));

/* The server waits this long for a lock (runtime/store.c STORE_BUSY_TIMEOUT_MS)
 * before it gives up; the shell holds the lock somewhat longer. */
const BUSY_HOLD_MS = 6500;

async function main() {
  const dir = tmpdir('faults');
  const bin = compile('counter', dir);
  if (!bin) return;
  const trigger = path.join(dir, 'fault');
  process.env.LIVE_TEST_FAULTS = trigger;
  const db = path.join(dir, 'faults.sqlite3');
  let srv = new Server(bin, dir, db);
  if (!check('server starts with the LIVE_TEST_FAULTS hook', await srv.start(), srv.stderr)) return;
  let base = srv.base;
  const s = await newSession(base, 2);
  if (!s) return;
  const [pa, pb] = s.participants;
  const a = await openStream(base, pa.code, undefined, 'player 1');
  const b = await openStream(base, pb.code, undefined, 'player 2');
  await a.waitCount(1);
  await b.waitCount(1);

  let expectTotal = 0;
  let clicks = 0;
  const add = async (amount) => {
    const r = await http(base, 'POST', `/p/${pa.code}/live`, { type: 'add', amount });
    if (r.status === 200) { expectTotal += amount; clicks++; }
    return r;
  };
  let r = await add(5);
  check('a message is accepted before any fault', r.status === 200, `${r.status} ${r.text}`);
  // Both streams must have the event before `before` is taken below, or a
  // late delivery of this accepted message would look like a leak.
  await a.waitFor((d) => d.total === 5);
  await b.waitFor((d) => d.total === 5);

  for (const [fault, re] of [['full', /full/i], ['ioerr', /I\/O|disk/i]]) {
    fs.writeFileSync(trigger, fault + '\n');
    const before = [a.events.length, b.events.length];
    r = await add(7);
    check(`${fault}: the message is answered 503 with a reason`,
      isError(r, 503, /storage failure/) && re.test(r.json.error), `${r.status} ${r.text}`);
    r = await http(base, 'POST', `/p/${pa.code}/live`, { type: 'note', text: 'lost' });
    check(`${fault}: every write keeps failing with 503 while the fault lasts`, isError(r, 503), `${r.status} ${r.text}`);
    r = await http(base, 'GET', '/healthz');
    check(`${fault}: the server keeps serving (healthz)`, r.status === 200, `${r.status}`);
    r = await http(base, 'GET', `/p/${pa.code}`);
    check(`${fault}: pages are still served`, r.status === 200, `${r.status}`);
    r = await http(base, 'GET', `/api/sessions/${s.code}`, undefined, admin);
    const g = r.json && r.json.groups && r.json.groups[0];
    check(`${fault}: nothing of the failed messages is applied in memory`,
      g && g.fields.total === expectTotal && g.fields.log === '' &&
      g.players.find((p) => p.code === pa.code).fields.clicks === clicks, r.text.slice(0, 300));
    await sleep(QUIET_MS);
    check(`${fault}: no event was sent for a failed message`,
      a.events.length === before[0] && b.events.length === before[1],
      JSON.stringify([a.events.slice(before[0]), b.events.slice(before[1])]));
    fs.rmSync(trigger, { force: true });
    r = await add(11);
    check(`${fault}: once the fault is gone, messages are accepted again`, r.status === 200, `${r.status} ${r.text}`);
    const ev = await a.waitFor((d) => d.total === expectTotal);
    await b.waitFor((d) => d.total === expectTotal);
    check(`${fault}: the next event has the next sequence number and the right total`,
      ev && consecutive(a.ids(), 1) && consecutive(b.ids(), 1), JSON.stringify(a.events.slice(-3)));
  }

  // ---- busy: another process holds the write lock ----------------------------
  const have = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' });
  if (have.status !== 0) {
    console.log('# SKIP busy: no sqlite3 shell');
  } else {
    const sh = spawn('sqlite3', [db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    sh.stdout.on('data', (d) => { out += d; });
    sh.stderr.on('data', (d) => { out += d; });
    sh.stdin.write('BEGIN IMMEDIATE;\nSELECT \'locked\';\n');
    for (let i = 0; i < 100 && !/locked/.test(out); i++) await sleep(20);
    check('busy: a sqlite3 shell holds the write lock', /locked/.test(out), out);
    const t0 = Date.now();
    const pending = add(13);
    await sleep(Math.max(0, BUSY_HOLD_MS - (Date.now() - t0)));
    r = await pending;
    check('busy: a message that cannot get the lock is answered 503 with a reason',
      isError(r, 503, /locked|busy/i), `${r.status} ${r.text}`);
    sh.stdin.end('COMMIT;\n');
    await new Promise((res) => sh.once('exit', res));
    r = await add(17);
    check('busy: once the lock is released, messages are accepted again', r.status === 200, `${r.status} ${r.text}`);
    await a.waitFor((d) => d.total === expectTotal);
  }
  check('every stream saw ids 1, 2, 3 ... with no gap', consecutive(a.ids(), 1) && consecutive(b.ids(), 1),
    JSON.stringify([a.ids(), b.ids()]));
  a.close();
  b.close();

  // ---- what is on disk is exactly what was acknowledged -----------------------
  const stop = await srv.stop('SIGTERM');
  check('SIGTERM after the faults ends it with status 0', stop && stop.code === 0, JSON.stringify(stop));
  delete process.env.LIVE_TEST_FAULTS;
  srv = new Server(bin, dir, db);
  if (!check('server restarts on the same database', await srv.start(), srv.stderr)) return;
  base = srv.base;
  r = await http(base, 'GET', `/api/sessions/${s.code}`, undefined, admin);
  const g = r.json && r.json.groups && r.json.groups[0];
  check('after a restart the state holds exactly the acknowledged messages',
    g && g.fields.total === expectTotal && g.fields.log === '' &&
    g.players.find((p) => p.code === pa.code).fields.clicks === clicks, `${expectTotal} ${r.text.slice(0, 300)}`);
  const rep = await openStream(base, pa.code, 0, 'replay');
  await rep.waitCount(1 + clicks);
  await sleep(QUIET_MS);
  check('the replay from 0 has one event per accepted message, ids without a gap',
    rep.events.length === 1 + clicks && consecutive(rep.ids(), 1), JSON.stringify(rep.ids()));
  rep.close();
  await srv.stop('SIGTERM');
  await movedAndLinked(bin, dir);
}

/* A --db that is a symlink (SQLite keeps the WAL beside the target, and the
 * server syncs that one), and a database file moved away while the server
 * runs (it must not answer 200 any more: its commits would go to a file
 * nobody opens again, and a second server could start at the path; it
 * stops, as at any other failure to make a batch durable). */
async function movedAndLinked(bin, dir) {
  const real = path.join(dir, 'real');
  fs.mkdirSync(real);
  const link = path.join(dir, 'link.sqlite3');
  fs.symlinkSync(path.join(real, 'r.sqlite3'), link);
  let srv = new Server(bin, dir, link);
  if (!check('a --db that is a symlink: the server starts', await srv.start(), srv.stderr)) return;
  let s = await newSession(srv.base, 2);
  let r = s && await http(srv.base, 'POST', `/p/${s.participants[0].code}/live`, { type: 'add', amount: 2 });
  check('a --db that is a symlink: messages are accepted', r && r.status === 200, r && `${r.status} ${r.text}`);
  let stop = await srv.stop('SIGTERM');
  check('a --db that is a symlink: SIGTERM exits 0, the data is in the target',
    stop && stop.code === 0 && fs.existsSync(path.join(real, 'r.sqlite3')) && !fs.existsSync(path.join(real, 'r.sqlite3-wal')),
    JSON.stringify(stop) + srv.stderr);

  const db = path.join(dir, 'moved.sqlite3');
  srv = new Server(bin, dir, db);
  if (!check('moved: the server starts', await srv.start(), srv.stderr)) return;
  s = await newSession(srv.base, 2);
  const code = s && s.participants[0].code;
  r = await http(srv.base, 'POST', `/p/${code}/live`, { type: 'add', amount: 1 });
  check('moved: a message is accepted before the move', r.status === 200, `${r.status} ${r.text}`);
  fs.renameSync(db, path.join(dir, 'day1.sqlite3'));
  r = await http(srv.base, 'POST', `/p/${code}/live`, { type: 'add', amount: 1 });
  const stop2 = await srv.stop('SIGTERM');
  check('moved: after the file is moved away, the next message is not answered 200',
    r.status !== 200, `${r.status} ${r.text}`);
  check('moved: the server stops with status 1, saying why on stderr',
    stop2 && stop2.code === 1 && /was moved or deleted while the server ran/.test(srv.stderr),
    JSON.stringify(stop2) + srv.stderr);
}

run(main);
