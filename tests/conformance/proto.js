#!/usr/bin/env node
// proto.js -- conformance checks of PROTOCOL.md statements that neither
// public.js nor extra.js asserts, in the style of extra.js (the public
// lib.js, the `eventsource` client): method and route edges, header case,
// Last-Event-ID forms, replay racing a flood, SIGTERM with open streams,
// CSV column order and bodies, the command line's environment, live.js in a
// sandbox, and livec's limits (README "Limits and abuse").  Written by a
// review of the sixth session.  Run with tests/conformance/run-extra proto
// [group ...] (LIVEC as for the public run).
// Checks marked [ambiguous] test one reading of a sentence the spec leaves
// open; every other check asserts what a spec sentence says (quoted).
'use strict';
const path = require('path');
const fs = require('fs');
const net = require('net');
const vm = require('vm');
const { spawn, spawnSync } = require('child_process');
const { L, GAMES, AUTH, rawStream, build, boot, withSrv, pairUp: pairOf, parseCsv, isJsonErr } = require('./common.js');
const { PW, sleep, check, tmpdir, compile, Server, http, newSession, Client, eq, hasError, runGroups } = L;
const EventSource = require('eventsource');

const amb = (name, ok, detail) => check(`[ambiguous] ${name}`, ok, detail);

class XClient extends Client {
  constructor(base, code, lastId) {
    super(base, code, lastId);
    this.all = [];
    this.es.addEventListener('message', (e) => this.all.push({ kind: 'message', id: e.lastEventId, data: e.data }));
    this.es.addEventListener('finish', (e) => this.all.push({ kind: 'finish', id: e.lastEventId, data: e.data }));
  }
  ids() { return this.all.map((m) => Number(m.id)); }
}

const csvObjs = (t) => { const r = parseCsv(t); return r.slice(1).map((x) => Object.fromEntries(r[0].map((h, i) => [h, x[i]]))); };
const post = (base, code, body) => http(base, 'POST', `/p/${code}/live`, body);

// A raw HTTP/1.1 request over a socket: exact header names and bytes.
function rawHttp(base, text, ms = 1500) {
  const u = new URL(base);
  return new Promise((resolve) => {
    let out = '';
    const s = net.connect(Number(u.port), u.hostname, () => s.write(text));
    s.on('data', (d) => { out += d; });
    const done = () => { clearTimeout(t); s.destroy(); resolve(out); };
    const t = setTimeout(done, ms);
    s.on('close', done); s.on('error', done);
  });
}
const sseIds = (text) => (text.match(/^id: ?(\d+)/mg) || []).map((x) => Number(x.replace(/\D/g, '')));
async function freePort() {
  return new Promise((resolve) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}
// Runs a server binary with args/env for ms, then SIGTERM: {out, err, code}.
function runFor(bin, args, opts, ms, during) {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = ''; let err = '';
    p.stdout.on('data', (d) => { out += d; }); p.stderr.on('data', (d) => { err += d; });
    let exited = null;
    p.on('exit', (code) => { exited = code; });
    setTimeout(async () => {
      let extra;
      if (during && exited === null) { try { extra = await during(out); } catch (e) { extra = String(e); } }
      if (exited !== null) return resolve({ out, err, code: exited, extra });
      p.on('exit', (code) => resolve({ out, err, code, extra }));
      p.kill('SIGTERM');
    }, ms);
  });
}

// ------------------------------------------------------------- http
// "Every error answer is JSON: {"error": "…"}" -- on wrong methods and
// routes the table does not list, on every admin route, on exports.
async function httpEdges() {
  await withSrv('counter', async (srv, cs) => {
    const base = srv.base;
    const pair = await pairOf(srv, cs, XClient);
    if (!pair) return;
    const { s, pa } = pair;
    for (const [m, p] of [['DELETE', `/p/${pa.code}`], ['PUT', `/p/${pa.code}/live`], ['GET', `/p/${pa.code}/next`],
      ['POST', `/p/${pa.code}/events`], ['POST', '/healthz'], ['POST', '/live.js'], ['PUT', '/api/sessions'],
      ['DELETE', `/api/sessions/${s.code}`], ['POST', `/api/sessions/${s.code}/export/players.csv`], ['PATCH', '/admin']]) {
      const r = await http(base, m, p, undefined, AUTH);
      check(`http: ${m} ${p.replace(pa.code, 'P').replace(s.code, 'S')} is a 4xx JSON error`, r.status >= 400 && r.status < 500 && isJsonErr(r), `${r.status} ${r.text.slice(0, 120)}`);
    }
    let r = await http(base, 'GET', `/api/sessions/NOSUCH/export/players.csv`, undefined, AUTH);
    check('http: export of an unknown session is 404 JSON', hasError(r, 404), `${r.status} ${r.text.slice(0, 120)}`);
    r = await http(base, 'GET', `/api/sessions/${s.code}/export/players`, undefined, AUTH);
    check('http: export name without .csv is 404 JSON', hasError(r, 404), `${r.status} ${r.text.slice(0, 120)}`);
    r = await http(base, 'GET', `/api/sessions/${s.code}/export/players.csv`, undefined, { Authorization: 'Bearer nope' });
    check('http: export with a wrong password is 401 JSON', hasError(r, 401), `${r.status} ${r.text.slice(0, 120)}`);
    r = await http(base, 'GET', `/api/sessions/NOSUCH`);
    check('http: unknown session without a password is 401 (not a 404 that leaks)', hasError(r, 401), `${r.status} ${r.text.slice(0, 120)}`);
    // header names are case-insensitive (RFC 9110 5.1); the Bearer scheme too (RFC 9110 11.1)
    let raw = await rawHttp(base, `POST /api/sessions HTTP/1.1\r\nHost: x\r\nAUTHORIZATION: Bearer ${PW}\r\nContent-Length: 18\r\nConnection: close\r\n\r\n{"participants":2}`);
    check('http: "AUTHORIZATION" header name in capitals is accepted (201)', /^HTTP\/1\.1 201/.test(raw), raw.slice(0, 200));
    r = await http(base, 'POST', '/api/sessions', { participants: 2 }, { Authorization: `bearer ${PW}` });
    check('http: the scheme "bearer" in lower case is accepted (RFC 9110: case-insensitive)', r.status === 201, `${r.status} ${r.text.slice(0, 120)}`);
    // session creation edges
    r = await http(base, 'POST', '/api/sessions', '{"participants": 4.0}', AUTH);
    amb('http: participants 4.0 (an integral JSON number) is accepted', r.status === 201 && r.json.participants.length === 4, `${r.status} ${r.text.slice(0, 120)}`);
    r = await http(base, 'POST', '/api/sessions', { participants: 10 }, AUTH);
    const ten = r.json;
    r = await http(base, 'GET', `/api/sessions/${ten && ten.code}`, undefined, AUTH);
    const g = r.json && r.json.groups;
    check('http: session state lists groups 1..5 in order, players by id_in_group, codes as in the 201 answer',
      g && eq(g.map((x) => x.id), [1, 2, 3, 4, 5]) && g.every((x, i) => eq(x.players.map((p) => [p.code, p.id_in_group]),
        [[ten.participants[2 * i].code, 1], [ten.participants[2 * i + 1].code, 2]])), r.text.slice(0, 300));
    check('http: GET /api/sessions/S is JSON', /application\/json/.test(r.type), r.type);
    // "N must be a positive multiple of the group size (else 400)": a big multiple is not a 400
    r = await http(base, 'POST', '/api/sessions', { participants: 10002 }, AUTH);
    // livec's cap (README "Limits and abuse"): at most 10,000 per session
    check('http: participants 10002 is 400: at most 10000 participants a session (livec limit)',
      r.status === 400 && isJsonErr(r) && /at most 10000/.test(r.json.error), `${r.status} ${r.text.slice(0, 160)}`);
    // the demo-less state after creation: participant urls serve the page
    r = await http(base, 'GET', ten.participants[9].url);
    check('http: the url of a participant in the 201 answer serves its page (200 HTML)', r.status === 200 && /html/.test(r.type), r.status);
    // 413 also for a chunked body with no Content-Length
    const big = JSON.stringify({ type: 'note', text: 'q'.repeat(70000) });
    raw = await rawHttp(base, `POST /p/${pa.code}/live HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`, 3000);
    check('http: a chunked body over 64 KiB is 413 with a JSON error', /^HTTP\/1\.1 413/.test(raw) && /\{"error":/.test(raw), raw.slice(0, 200));
    const small = JSON.stringify({ type: 'add', amount: 2 });
    raw = await rawHttp(base, `POST /p/${pa.code}/live HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${small.length.toString(16)}\r\n${small}\r\n0\r\n\r\n`, 3000);
    check('http: a small chunked body is handled (200 {"ok":true})', /^HTTP\/1\.1 200/.test(raw) && /"ok": ?true/.test(raw), raw.slice(0, 200));
    r = await http(base, 'GET', '/healthz');
    check('http: /healthz body is exactly "ok" (optionally a newline)', /^ok\n?$/.test(r.text), JSON.stringify(r.text));
  });
}

// ------------------------------------------------------------- csv
// "CSV with a header row. NAME is players, groups, messages (every message
// received: time, participant, type, body, outcome) or a table's name."
async function csv() {
  await withSrv('lab', async (srv, cs) => {
    const base = srv.base;
    const s = await newSession(base, 3);
    if (!s) return;
    const P = s.participants;
    let r = await http(base, 'GET', `/api/sessions/${s.code}/export/item.csv`, undefined, AUTH);
    let rows = parseCsv(r.text.replace(/\r?\n$/, ''));
    check('csv: an empty table exports its header row and nothing else', r.status === 200 && rows.length === 1 && rows[0].includes('id') && rows[0].includes('owner') && rows[0].includes('price') && rows[0].includes('label'), JSON.stringify(r.text));
    r = await http(base, 'GET', `/api/sessions/${s.code}/export/messages.csv`, undefined, AUTH);
    rows = parseCsv(r.text.replace(/\r?\n$/, ''));
    check('csv: messages.csv of a session with no message is the header alone', r.status === 200 && rows.length === 1, JSON.stringify(r.text));
    const sent = [
      [P[0], '{"type":"put","price":1.5}', 'put', 'accepted'],
      [P[1], '{ "type" : "div", "d" : 0 }', 'div', 'rejected'],
      [P[2], 'not json at all', '', 'rejected'],
      [P[0], '{}', '', 'accepted'],
      [P[1], '{"type":"tell","to":3,"text":"a,\\"b\\"\\nc"}', 'tell', 'rejected'], // text max 5,
      [P[2], '{"type":"nosuch"}', 'nosuch', 'rejected'],
    ];
    for (const [p, body] of sent) await post(base, p.code, body);
    r = await http(base, 'GET', `/api/sessions/${s.code}/export/messages.csv`, undefined, AUTH);
    const recs = parseCsv(r.text.replace(/\r?\n$/, ''));
    const hdr = recs[0] || [];
    check('csv: messages.csv header has time, participant, type, body, outcome in that order',
      ['time', 'participant', 'type', 'body', 'outcome'].map((h) => hdr.indexOf(h)).every((v, i, a) => v >= 0 && (i === 0 || v > a[i - 1])), JSON.stringify(hdr));
    const M = csvObjs(r.text.replace(/\r?\n$/, ''));
    check('csv: one row per message received (a malformed body too), in the order received',
      M.length === sent.length && M.every((m, i) => m.participant === sent[i][0].code), JSON.stringify(M.map((m) => m.participant)));
    check('csv: body column holds the body as sent (RFC 4180 quoting round-trips)',
      M.length === sent.length && M.every((m, i) => m.body === sent[i][1]), JSON.stringify(M.map((m) => m.body)));
    amb('csv: type column holds the "type" (empty for none / not JSON)', M.length === sent.length && M.every((m, i) => m.type === sent[i][2]), JSON.stringify(M.map((m) => m.type)));
    check('csv: outcome tells accepted from rejected for each row (same word for same outcome)',
      M.length === sent.length && new Set(M.filter((m, i) => sent[i][3] === 'accepted').map((m) => m.outcome)).size === 1 &&
      new Set(M.filter((m, i) => sent[i][3] === 'rejected').map((m) => m.outcome)).size === 1 && M[0].outcome !== M[1].outcome, JSON.stringify(M.map((m) => m.outcome)));
    const times = M.map((m) => Date.parse(m.time) || Number(m.time));
    check('csv: time is a parseable time, non-decreasing, within the run', times.every((t, i) => Number.isFinite(t) && Math.abs(t - Date.now()) < 600000 && (i === 0 || t >= times[i - 1])), JSON.stringify(M.map((m) => m.time)));
    // table CSV with quoting
    await post(base, P[0].code, { type: 'put', price: 2.25 });
    r = await http(base, 'GET', `/api/sessions/${s.code}/export/item.csv`, undefined, AUTH);
    const items = csvObjs(r.text.replace(/\r?\n$/, ''));
    check('csv: table rows in id order with their columns', eq(items.map((x) => [x.id, x.owner, Number(x.price), x.label]), [['1', '1', 1.5, 'none'], ['2', '1', 2.25, 'none']]), JSON.stringify(items));
    r = await http(base, 'GET', `/api/sessions/${s.code}/export/players.csv`, undefined, AUTH);
    const pl = csvObjs(r.text.replace(/\r?\n$/, ''));
    check('csv: players.csv has one row per participant in session order', pl.length === 3 && pl.every((x, i) => Object.values(x).includes(P[i].code)), JSON.stringify(pl));
    r = await http(base, 'GET', `/api/sessions/${s.code}/export/groups.csv`, undefined, AUTH);
    const gr = csvObjs(r.text.replace(/\r?\n$/, ''));
    amb('csv: an array field is written as JSON text', gr.length === 1 && gr[0].arr === '[1,2,3]', JSON.stringify(gr));
    check('csv: the exports are served as text/csv', /text\/csv/.test(r.type), r.type);
  });
}

// ------------------------------------------------------------- sse
async function sse() {
  await withSrv('counter', async (srv, cs) => {
    const base = srv.base;
    const pair = await pairOf(srv, cs, XClient);
    if (!pair) return;
    const { pa, pb, a } = pair;
    for (let i = 0; i < 3; i++) await post(base, pa.code, { type: 'add', amount: 1 });
    await a.waitCount(4);
    // header name case: HTTP header names are case-insensitive
    for (const name of ['LAST-EVENT-ID', 'last-event-id']) {
      const raw = await rawHttp(base, `GET /p/${pa.code}/events HTTP/1.1\r\nHost: x\r\n${name}: 2\r\n\r\n`, 800);
      check(`sse: "${name}: 2" replays 3,4 and runs no on load`, eq(sseIds(raw), [3, 4]), JSON.stringify(raw.slice(-300)));
    }
    let raw = await rawHttp(base, `GET /p/${pa.code}/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID:    3   \r\n\r\n`, 800);
    check('sse: Last-Event-ID with spaces around the number replays 4 only', eq(sseIds(raw), [4]), JSON.stringify(raw.slice(-200)));
    raw = await rawHttp(base, `GET /p/NOSUCH/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1\r\nConnection: close\r\n\r\n`, 800);
    check('sse: a reconnection of an unknown participant is 404 JSON', /^HTTP\/1\.1 404/.test(raw) && /\{"error":/.test(raw), raw.slice(0, 200));
    // replay while messages keep coming: every id exactly once, in order
    let stop = false; let n = 0;
    const flood = (async () => { while (!stop) { const r = await post(base, pb.code, { type: 'add', amount: 1 }); if (r.status === 200) n++; else if (r.status !== 429) return; await sleep(2); } })();
    const seen = [];
    let last = 1; let rounds = 0;
    for (let k = 0; k < 6; k++) {
      const c = new XClient(base, pa.code, last);
      await sleep(150 + 40 * k);
      c.close();
      seen.push(...c.ids());
      if (c.all.length) last = Number(c.all[c.all.length - 1].id);
      rounds++;
    }
    stop = true; await flood;
    await sleep(200);
    const tail = new XClient(base, pa.code, last); cs.push(tail);
    await sleep(400);
    seen.push(...tail.ids());
    check(`sse: ${rounds} reconnections during a flood of ${n} messages: ids 2..N each exactly once, in order`,
      seen.length > 0 && seen.every((v, i) => v === i + 2) && seen[seen.length - 1] === 4 + n, `${seen.length} ids, first ${seen.slice(0, 5)} last ${seen.slice(-3)} want last ${4 + n}`);
    // concurrent fresh streams: each on load takes its own id, each stream gets every id from its first on
    const f1 = new XClient(base, pa.code); const f2 = new XClient(base, pa.code); cs.push(f1, f2);
    await f1.waitCount(1); await f2.waitCount(1);
    await sleep(500);
    const i1 = f1.ids(); const i2 = f2.ids(); const u = [...new Set([...i1, ...i2])].sort((x, y) => x - y);
    check('sse: two fresh streams opened together: two on load messages with consecutive ids; both streams get the later one',
      u.length === 2 && u[1] === u[0] + 1 && i1.includes(u[1]) && i2.includes(u[1]), JSON.stringify([i1, i2]));
  });
  // SIGTERM with streams open: exits 0 promptly; replay after the restart
  const b = build('counter');
  if (!b) return;
  const db = path.join(tmpdir('sseterm'), 'k.sqlite3');
  let srv = new Server(b.bin, b.dir, db);
  if (!check('sse: server starts', await srv.start(), srv.stderr)) return;
  const s = await newSession(srv.base, 2);
  if (!s) { await srv.stop('SIGKILL'); return; }
  const [pa] = s.participants;
  const streams = Array.from({ length: 3 }, () => new XClient(srv.base, pa.code));
  await Promise.all(streams.map((c) => c.waitCount(1)));
  await sleep(300);
  await post(srv.base, pa.code, { type: 'add', amount: 5 });
  await streams[0].waitCount(4);
  const t0 = Date.now();
  const st = await srv.stop('SIGTERM');
  const dt = Date.now() - t0;
  streams.forEach((c) => c.close());
  check(`sse: SIGTERM with 3 open streams exits 0 within 5 s (${dt} ms)`, st && st.code === 0 && dt < 5000, JSON.stringify(st));
  srv = new Server(b.bin, b.dir, db);
  if (!check('sse: restarts after SIGTERM', await srv.start(), srv.stderr)) return;
  const z = new XClient(srv.base, pa.code, 0);
  await z.waitCount(4); await sleep(300);
  check('sse: after a SIGTERM restart Last-Event-ID 0 replays 1..4 (three on loads and the add)', eq(z.ids(), [1, 2, 3, 4]) && z.msgs[3].data.total === 5, JSON.stringify(z.ids()));
  z.close();
  const f = new XClient(srv.base, pa.code);
  await f.waitCount(1);
  check('sse: a fresh stream after the restart takes id 5', f.msgs[0] && f.msgs[0].id === '5', JSON.stringify(f.msgs));
  f.close();
  const st2 = await srv.stop();
  check('sse: SIGTERM exits 0', st2 && st2.code === 0, JSON.stringify(st2));
  // finish survives kill -9 and is replayed with its id
  const tb = build('tictactoe');
  if (!tb) return;
  const db2 = path.join(tmpdir('ssefin'), 't.sqlite3');
  srv = new Server(tb.bin, tb.dir, db2);
  if (!check('sse: tictactoe starts', await srv.start(), srv.stderr)) return;
  const s2 = await newSession(srv.base, 2);
  const [qa, qb] = s2.participants;
  const ca = new XClient(srv.base, qa.code); await ca.waitCount(1);
  for (const [c, sq] of [[qa, 0], [qb, 3], [qa, 1], [qb, 4], [qa, 2]]) await post(srv.base, c.code, { type: 'move', square: sq });
  await ca.waitFinish();
  ca.close();
  srv.proc.kill('SIGKILL');
  await new Promise((r) => (srv.alive() ? srv.proc.once('exit', r) : r()));
  srv = new Server(tb.bin, tb.dir, db2);
  if (!check('sse: tictactoe restarts after kill -9', await srv.start(), srv.stderr)) return;
  const rb = new XClient(srv.base, qb.code, 4);
  await rb.waitFinish(); await sleep(300);
  check('sse: after kill -9, Last-Event-ID 4 replays message 5 and finish 6 (b never had a stream)',
    eq(rb.all.map((x) => [x.kind, x.id]), [['message', '5'], ['finish', '6']]) && eq(JSON.parse(rb.finish || 'null'), { next: `/p/${qb.code}` }), JSON.stringify(rb.all));
  rb.close();
  const r = await http(srv.base, 'GET', `/api/sessions/${s2.code}`, undefined, AUTH);
  check('sse: the pages finish moved to survive kill -9', r.json && r.json.groups[0].players.every((p) => p.page === 'finished'), r.text.slice(0, 200));
  const st3 = await srv.stop();
  check('sse: SIGTERM exits 0', st3 && st3.code === 0, JSON.stringify(st3));
}

// ------------------------------------------------------------- command line
async function cli() {
  const b = build('counter');
  if (!b) return;
  // "Without --admin-password it generates one and prints it."
  const dir = tmpdir('clipw');
  let res = await runFor(b.bin, ['--port', '0'], { cwd: dir, env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^LIVE_/.test(k))) }, 1200, async (out) => {
    const m = out.match(/listening on (http:\/\/[^\s/]+)\//);
    if (!m) return null;
    const words = out.replace(/https?:\/\/\S+/g, ' ').match(/[A-Za-z0-9_-]{8,}/g) || [];
    for (const w of words) {
      const r = await http(m[1], 'POST', '/api/sessions', { participants: 2 }, { Authorization: `Bearer ${w}` });
      if (r.status === 201) return w;
    }
    return null;
  });
  check('cli: without --admin-password a generated password is printed and opens the API', typeof res.extra === 'string', res.out + res.err);
  // "Defaults: ... database ./GAME.sqlite3"
  check('cli: the default database is ./GAME.sqlite3 in the working directory', fs.existsSync(path.join(dir, 'counter.sqlite3')), fs.readdirSync(dir).join(' '));
  check('cli: SIGTERM exits 0 (generated password run)', res.code === 0, res.code);
  // "If the database holds no session ... prints one URL per player": the printed URLs work
  const dir2 = tmpdir('clidemo');
  res = await runFor(b.bin, ['--port', '0', '--db', path.join(dir2, 'd.sqlite3'), '--admin-password', PW], { cwd: dir2 }, 1200, async (out) => {
    const urls = out.match(/http:\/\/[^\s]+\/p\/[A-Za-z0-9_-]+/g) || [];
    const st = [];
    for (const u of urls) st.push((await fetch(u)).status);
    return { urls, st };
  });
  check('cli: each printed demo URL serves its participant page (200)', res.extra && res.extra.urls.length === 2 && res.extra.st.every((x) => x === 200), JSON.stringify(res.extra) + res.out);
  // LIVE_PORT alone, LIVE_HOST, --host
  const port = await freePort();
  res = await runFor(b.bin, ['--db', path.join(dir2, 'e.sqlite3'), '--admin-password', PW], { cwd: dir2, env: { ...process.env, LIVE_PORT: String(port) } }, 1000,
    async () => (await http(`http://127.0.0.1:${port}`, 'GET', '/healthz')).status);
  check('cli: LIVE_PORT sets the port', res.extra === 200 && res.out.includes(`listening on http://127.0.0.1:${port}/`), res.out + res.err);
  res = await runFor(b.bin, ['--port', '0', '--db', path.join(dir2, 'f.sqlite3'), '--admin-password', PW], { cwd: dir2, env: { ...process.env, LIVE_HOST: '127.0.0.2' } }, 1000,
    async (out) => { const m = out.match(/listening on (http:\/\/[^\s/]+)\//); return m ? (await http(m[1], 'GET', '/healthz')).status : out; });
  check('cli: LIVE_HOST sets the address (listening line names it)', res.extra === 200 && /listening on http:\/\/127\.0\.0\.2:\d+\//.test(res.out), res.out + res.err);
  res = await runFor(b.bin, ['--host', '127.0.0.3', '--port', '0', '--db', path.join(dir2, 'g.sqlite3'), '--admin-password', PW], { cwd: dir2, env: { ...process.env, LIVE_HOST: '127.0.0.2' } }, 1000,
    async (out) => { const m = out.match(/listening on (http:\/\/[^\s/]+)\//); return m ? (await http(m[1], 'GET', '/healthz')).status : out; });
  check('cli: --host beats LIVE_HOST', res.extra === 200 && /listening on http:\/\/127\.0\.0\.3:\d+\//.test(res.out), res.out + res.err);
  // "A bad flag, an unreadable database or a port in use: one clear line on stderr, exit status 2."
  const junk = path.join(dir2, 'junk.sqlite3');
  fs.writeFileSync(junk, Buffer.alloc(4096, 0x5a));
  for (const [name, args] of [['a database file that is not SQLite', ['--port', '0', '--db', junk, '--admin-password', 'x']],
    ['a directory as database', ['--port', '0', '--db', dir2, '--admin-password', 'x']],
    ['--db :memory: (nothing would be durable)', ['--port', '0', '--db', ':memory:', '--admin-password', 'x']],
    ['--db /dev/null', ['--port', '0', '--db', '/dev/null', '--admin-password', 'x']],
    ['--port abc', ['--port', 'abc', '--db', path.join(dir2, 'h.sqlite3')]], ['--port 65536', ['--port', '65536', '--db', path.join(dir2, 'h.sqlite3')]],
    ['--port without a value', ['--db', path.join(dir2, 'h.sqlite3'), '--port']], ['a stray argument', ['--port', '0', 'extra']]]) {
    const r = spawnSync(b.bin, args, { encoding: 'utf8', timeout: 10000 });
    check(`cli: ${name}: exit 2, one line on stderr`, r.status === 2 && r.stderr.trim().split('\n').length === 1, `${r.status} ${r.stderr}`);
  }
  // the database of another game is not this game's
  const lb = build('lab');
  if (lb) {
    const ldb = path.join(tmpdir('clilab'), 'l.sqlite3');
    const ls = new Server(lb.bin, lb.dir, ldb);
    if (await ls.start()) { await newSession(ls.base, 3); await ls.stop(); }
    const r = spawnSync(b.bin, ['--port', '0', '--db', ldb, '--admin-password', 'x'], { encoding: 'utf8', timeout: 4000 });
    amb('cli: another game\'s database is refused: exit 2, one line on stderr', r.status === 2 && r.stderr.trim().split('\n').length === 1, `${r.status} ${r.signal} ${r.stderr}`);
  }
}

// ------------------------------------------------------------- live.js
// Loads /live.js into a sandbox with the browser globals it needs.
function browser(base, code, html) {
  const log = { recv: [], errors: [], assigned: [], unhandled: [] };
  const winListeners = {};
  class ES extends EventSource { constructor(u, o) { super(new URL(u, base).href, o); } }
  const doc = {
    readyState: 'complete', addEventListener() {}, removeEventListener() {}, dispatchEvent() { return true; },
    getElementById() { return null; }, querySelectorAll() { return []; }, querySelector() { return null; },
  };
  const ctx = {
    console, setTimeout, clearTimeout, setInterval, clearInterval, Promise, JSON, URL, AbortController,
    TextDecoder, TextEncoder,
    fetch: (u, o) => fetch(new URL(u, base).href, o),
    EventSource: ES,
    CustomEvent: class { constructor(t, o) { this.type = t; this.detail = o && o.detail; } },
    document: doc,
    location: { pathname: `/p/${code}`, href: `${base}/p/${code}`, assign(u) { log.assigned.push(u); }, replace(u) { log.assigned.push(u); } },
    addEventListener(t, fn) { (winListeners[t] = winListeners[t] || []).push(fn); },
    removeEventListener() {},
    liveRecv(d) { log.recv.push(d); },
  };
  ctx.window = ctx; ctx.self = ctx;
  vm.createContext(ctx);
  const onUnhandled = (reason) => {
    const ev = { reason, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    (winListeners.unhandledrejection || []).forEach((fn) => fn(ev));
    if (!ev.defaultPrevented) log.unhandled.push(String(reason));
  };
  process.on('unhandledRejection', onUnhandled);
  vm.runInContext(html, ctx);
  return { ctx, log, close() { process.removeListener('unhandledRejection', onUnhandled); } };
}

async function livejs() {
  const b = build('counter');
  if (!b) return;
  const port = await freePort();
  const db = path.join(tmpdir('livejs'), 'j.sqlite3');
  const start = () => new Promise((resolve) => {
    const p = spawn(b.bin, ['--port', String(port), '--db', db, '--admin-password', PW], { cwd: b.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    p.stdout.on('data', (d) => { o += d; if (/listening on/.test(o)) resolve(p); });
    p.on('exit', () => resolve(null));
    setTimeout(() => resolve(p), 8000);
  });
  let proc = await start();
  if (!check('livejs: server starts on a fixed port', !!proc)) return;
  const base = `http://127.0.0.1:${port}`;
  const s = await newSession(base, 2);
  if (!s) { proc.kill('SIGKILL'); return; }
  const [pa, pb] = s.participants;
  let br = null;
  try {
    const js = (await http(base, 'GET', '/live.js')).text;
    br = browser(base, pa.code, js);
    const w = br.ctx;
    check('livejs: liveSend is defined as soon as the script runs', typeof w.liveSend === 'function', typeof w.liveSend);
    // queued before the stream is open: not lost, answered
    const p1 = w.liveSend({ type: 'add', amount: 2 });
    const p2 = w.liveSend({ type: 'add', amount: 0 });
    const a1 = await p1.then((x) => ({ ok: x }), (e) => ({ err: e }));
    check('livejs: a call made before the stream opened is sent and resolves with the server\'s answer {"ok": true}', a1.ok && eq(JSON.parse(JSON.stringify(a1.ok)), { ok: true }), JSON.stringify(a1));
    const a2 = await p2.then((x) => ({ ok: x }), (e) => ({ err: e }));
    const reason = (await post(base, pa.code, { type: 'add', amount: 0 })).json.error;
    check('livejs: a 422 rejects the Promise with the reason text (String(r))', a2.err !== undefined && String(a2.err) === reason, JSON.stringify(a2));
    check('livejs: the rejection value is the reason itself (a string primitive, r === reason)', typeof a2.err === 'string' && a2.err === reason, `typeof ${typeof a2.err}`);
    const got = async (pred, ms = 4000) => { const end = Date.now() + ms; while (Date.now() < end) { const h = br.log.recv.find(pred); if (h) return h; await sleep(20); } return undefined; };
    check('livejs: liveRecv gets on load\'s message and the queued send\'s news', !!(await got((d) => d.clicks === 0)) && !!(await got((d) => d.total === 2 && d.by === 1)), JSON.stringify(br.log.recv));
    // liveError for an uncaught rejection
    w.liveError = (r) => br.log.errors.push(r);
    w.liveSend({ type: 'nosuch' });
    await sleep(300);
    check('livejs: liveError(reason) is called for a rejection the page did not catch', br.log.errors.length === 1 && /nosuch/.test(br.log.errors[0]), JSON.stringify(br.log.errors));
    const caught = await w.liveSend({ type: 'nosuch2' }).catch(() => 'c');
    await sleep(200);
    check('livejs: liveError is not called for a caught rejection', caught === 'c' && br.log.errors.length === 1, JSON.stringify(br.log.errors));
    // reconnects by itself with Last-Event-ID across a kill -9 + restart
    const nBefore = br.log.recv.length;
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    proc = await start();
    check('livejs: server restarts on the same port', !!proc);
    await post(base, pb.code, { type: 'add', amount: 40 });
    const after = await got((d) => d.total === 42, 8000);
    await sleep(300);
    const extra = br.log.recv.slice(nBefore);
    check('livejs: it reconnects by itself: the message sent while it was away arrives once, no on load rerun',
      !!after && extra.length === 1, JSON.stringify(extra));
    // follows finish to the next page
    await fetch(`${base}/p/${pb.code}/next`, { method: 'POST', redirect: 'manual' });
    const tb = build('tictactoe');
    if (tb) {
      const srv = new Server(tb.bin, tb.dir);
      if (await srv.start()) {
        const s2 = await newSession(srv.base, 2);
        const [qa, qb] = s2.participants;
        const js2 = (await http(srv.base, 'GET', '/live.js')).text;
        const br2 = browser(srv.base, qa.code, js2);
        await sleep(500);
        for (const [c, sq] of [[qa, 0], [qb, 3], [qa, 1], [qb, 4], [qa, 2]]) await post(srv.base, c.code, { type: 'move', square: sq });
        const end = Date.now() + 4000;
        while (Date.now() < end && !br2.log.assigned.length) await sleep(20);
        check('livejs: it follows finish to the next page (/p/P)', br2.log.assigned.length >= 1 && new URL(br2.log.assigned[0], srv.base).pathname === `/p/${qa.code}`, JSON.stringify(br2.log.assigned));
        br2.close();
        await srv.stop();
      }
    }
  } finally {
    if (br) br.close();
    if (proc) { proc.kill('SIGTERM'); await new Promise((r) => proc.once('exit', r)); }
  }
}

// ------------------------------------------------------------- admission
// The spec's answers to POST /p/P/live are 200, 422, 400, 404, 413; to a wrong
// password 401.  No rate limit is specified.
// livec's limits (issue 5; README "Limits and abuse"), which PROTOCOL.md's
// table does not list: each is answered 429 with Retry-After and a JSON
// reason, and lets everything within the limit through.
async function limits() {
  await withSrv('counter', async (srv) => {
    const s = await newSession(srv.base, 2);
    if (!s) return;
    const code = s.participants[0].code;
    const st = {};
    let first429 = null;
    for (let i = 0; i < 1500; i++) {
      const r = await post(srv.base, code, { type: 'add', amount: 1 });
      st[r.status] = (st[r.status] || 0) + 1;
      if (r.status === 429 && !first429) first429 = r;
    }
    check('limits: 1500 messages one after the other: the first 1000 (the burst) and more are 200, the rest 429 (100/s)',
      st[200] >= 1000 && st[200] < 1500 && st[429] > 0 && st[200] + st[429] === 1500, JSON.stringify(st));
    check('limits: a message over the rate is 429 with a JSON reason',
      !!first429 && isJsonErr(first429), first429 && first429.text);
    const tot = await http(srv.base, 'GET', `/api/sessions/${s.code}`, undefined, AUTH);
    const g = tot.json && (tot.json.groups || [])[0];
    check('limits: exactly the 200-answered messages counted', !!g && JSON.stringify(g).includes(`"total":${st[200]}`),
      `${st[200]} ${tot.text.slice(0, 300)}`);
  });
  await withSrv('counter', async (srv) => {
    const w = {};
    for (let i = 0; i < 110; i++) {
      const r = await http(srv.base, 'POST', '/api/sessions', { participants: 2 }, { Authorization: 'Bearer wrong' });
      w[r.status] = (w[r.status] || 0) + 1;
    }
    check('limits: 100 wrong passwords are each 401, then 429 (1 try a second)', w[401] === 100 && w[429] === 10, JSON.stringify(w));
    let r = await http(srv.base, 'POST', '/api/sessions', { participants: 2 }, AUTH);
    check('limits: while the address has no try left even the right password is 429', r.status === 429 && isJsonErr(r),
      `${r.status} ${r.text.slice(0, 100)}`);
    await sleep(1100);
    r = await http(srv.base, 'POST', '/api/sessions', { participants: 2 }, AUTH);
    check('limits: a second later the right password works (201)', r.status === 201, `${r.status} ${r.text.slice(0, 100)}`);
  });
  await withSrv('counter', async (srv, cs) => {
    const s = await newSession(srv.base, 2);
    if (!s) return;
    const code = s.participants[0].code;
    const tabs = Array.from({ length: 16 }, () => new XClient(srv.base, code));
    cs.push(...tabs);
    await Promise.all(tabs.map((t) => t.waitCount(1, 6000)));
    const r = await http(srv.base, 'GET', `/p/${code}/events`);
    check('limits: a 17th open stream of one participant is 429 with a JSON reason', r.status === 429 && isJsonErr(r),
      `${r.status} ${r.text.slice(0, 100)}`);
    await post(srv.base, code, { type: 'add', amount: 9 });
    await sleep(800);
    const n = tabs.filter((t) => t.msgs.some((m) => m.data.total === 9)).length;
    check('limits: 16 open streams (tabs) of one participant each receive the message', n === 16, `${n} of 16`);
  });
}

runGroups({ httpEdges, csv, sse, cli, livejs, limits });
