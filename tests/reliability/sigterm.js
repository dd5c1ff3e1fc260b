// sigterm.js -- clean shutdown under load (PROTOCOL.md: "SIGINT/SIGTERM:
// stop accepting, finish the handlers in flight, close the database
// cleanly, exit 0").
//
// Builds games/counter.live and, once with SIGTERM, SIGINT and SIGHUP (the
// terminal the server runs in was closed) each:
// floods the server with `add` messages from several concurrent loops per
// participant while every participant has an open event stream, sends the
// signal at a random moment, and checks that
//   - the server exits with status 0, promptly;
//   - every request got an answer (200 while running, 503 once it is
//     stopping) or, once it stopped accepting, a refused connection;
//   - every handler that ran was answered: after a restart each
//     participant's clicks equal exactly the number of 200 answers it got
//     (a committed message whose answer was dropped would show up here);
//   - the event streams end cleanly, and the database is closed cleanly
//     (no -wal file left behind after the last connection closed).
// Environment: LIVEC, GAMES (as tests/e2e/lib.js).
'use strict';
const fs = require('fs');
const { spawn } = require('child_process');
const path = require('path');
const {
  admin, sleep, check, run, tmpdir, compile, Server, http, newSession, Stream,
} = require(path.join(__dirname, '..', 'e2e', 'lib.js'));

const PARTICIPANTS = 6;
const LOOPS = 3;
/* Longest acceptable time from the signal to the exit. */
const EXIT_MS = 5000;

async function main() {
  // a flood from few participants: the message rate limit is not under test
  process.env.LIVE_RATE = process.env.LIVE_RATE || '0';
  const dir = tmpdir('sigterm');
  const bin = compile('counter', dir);
  if (!bin) return;
  const db = path.join(dir, 'term.sqlite3');
  let srv = new Server(bin, dir, db);
  if (!check('server starts', await srv.start(), srv.stderr)) return;
  const session = await newSession(srv.base, PARTICIPANTS);
  if (!session) return;
  const people = session.participants.map((p, k) => ({ code: p.code, amount: k + 1, acked: 0 }));

  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    const base = srv.base;
    const streams = [];
    for (const p of people) streams.push(await new Stream(base, p.code).open());
    const statuses = {};
    let stop = false;
    const loop = async (p) => {
      while (!stop) {
        const r = await http(base, 'POST', `/p/${p.code}/live`, { type: 'add', amount: p.amount });
        statuses[r.status] = (statuses[r.status] || 0) + 1;
        if (r.status === 200) p.acked++;
        if (r.status === 0) return;
      }
    };
    const loops = [];
    for (const p of people) for (let i = 0; i < LOOPS; i++) loops.push(loop(p));
    await sleep(200 + Math.random() * 300);
    const t0 = Date.now();
    const exit = await srv.stop(sig);
    const took = Date.now() - t0;
    stop = true;
    await Promise.all(loops);
    console.log(`# ${sig}: answers ${JSON.stringify(statuses)}, exit after ${took} ms`);
    check(`${sig}: the server exits with status 0 within ${EXIT_MS / 1000} s`,
      exit && exit.code === 0 && took < EXIT_MS, `${JSON.stringify(exit)} after ${took} ms ${srv.stderr}`);
    check(`${sig}: every request was answered 200 or 503, or refused once the server stopped`,
      Object.keys(statuses).every((s) => s === '200' || s === '503' || s === '0') && statuses[200] > 0,
      JSON.stringify(statuses));
    check(`${sig}: nothing on stderr`, srv.stderr === '', srv.stderr);
    await sleep(50);
    check(`${sig}: every event stream ended`, streams.every((s) => s.ended), streams.map((s) => s.ended).join());
    for (const s of streams) s.close();
    check(`${sig}: the database was closed cleanly (no WAL file left)`, !fs.existsSync(`${db}-wal`),
      fs.existsSync(`${db}-wal`) ? `${fs.statSync(`${db}-wal`).size} bytes` : '');

    srv = new Server(bin, dir, db);
    if (!check(`${sig}: the server restarts`, await srv.start(), srv.stderr)) return;
    const r = await http(srv.base, 'GET', `/api/sessions/${session.code}`, undefined, admin);
    const clicks = new Map();
    for (const g of (r.json && r.json.groups) || []) for (const pl of g.players) clicks.set(pl.code, pl.fields.clicks);
    const bad = people.filter((p) => clicks.get(p.code) !== p.acked);
    check(`${sig}: every handler that ran was answered 200, and every 200 is on disk`, bad.length === 0,
      JSON.stringify(bad.map((p) => ({ code: p.code, acked: p.acked, clicks: clicks.get(p.code) }))));
  }
  await srv.stop('SIGTERM');

  // under nohup (SIGHUP ignored when the server starts) SIGHUP does nothing
  const out = await new Promise((resolve) => {
    const p = spawn('sh', ['-c', 'trap "" HUP; exec "$0" --port 0 --db "$1" --admin-password pw', bin,
      path.join(dir, 'nohup.sqlite3')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    let hupAt = 0;
    p.stdout.on('data', (d) => {
      text += d;
      if (!hupAt && /listening on/.test(text)) {
        hupAt = Date.now();
        p.kill('SIGHUP');
        setTimeout(() => { resolve({ alive: p.exitCode === null && p.signalCode === null, p }); }, 500);
      }
    });
    setTimeout(() => resolve({ alive: false, p, text }), 10000);
  });
  check('under nohup (SIGHUP ignored at start) SIGHUP leaves the server running', out.alive, out.text || '');
  const code = await new Promise((resolve) => {
    if (out.p.exitCode !== null || out.p.signalCode !== null) { resolve(out.p.exitCode); return; }
    out.p.once('exit', (c) => resolve(c));
    out.p.kill('SIGTERM');
  });
  check('... and SIGTERM still stops it with status 0', code === 0, String(code));
}

run(main);
