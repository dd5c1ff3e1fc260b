// node-counter.js -- the peer in the benchmark: games/counter.live written by
// hand for Node.js with the plain `http` module and Server-Sent Events, the
// way a Node developer would write it (issue 6).
//
// It speaks the part of PROTOCOL.md that bench/loadgen uses, with the same
// JSON: POST /api/sessions (Bearer password) -> participant codes in groups
// of 2; GET /p/P/events (SSE, `on load` sends {total, log, clicks}); POST
// /p/P/live {"type":"add","amount":1..1000} -> 200 {"ok":true} and
// {total, log, by} to the whole group.  State is kept in memory only: unlike
// the livec server nothing is written to disk before answering, so the
// comparison flatters Node on durability.
//
//   node bench/node-counter.js [--port N] [--admin-password PW]
// prints "listening on http://127.0.0.1:PORT/"; exits on SIGINT/SIGTERM or
// by itself after MAX_LIFETIME_MS.
'use strict';
const http = require('http');
const crypto = require('crypto');

const GROUP_SIZE = 2;                    // counter.live: players 2
const BODY_LIMIT = 64 * 1024;            // PROTOCOL.md: 413 past 64 KiB
const SESSION_MAX = 10000;               // as the runtime
const MAX_LIFETIME_MS = 15 * 60 * 1000;  // a forgotten peer exits by itself
const PING_MS = 15000;                   // PROTOCOL.md: a comment every 15 s

let port = 0;
let password = 'bench';
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--port') port = Number(process.argv[++i]);
  else if (process.argv[i] === '--admin-password') password = process.argv[++i];
  else { console.error('usage: node node-counter.js [--port N] [--admin-password PW]'); process.exit(2); }
}

const participants = new Map();   // code -> {group, id, clicks, seq, streams:Set}

function json(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

// Sends one event (a JSON-able object) to participant p's open streams.
function deliver(p, obj) {
  p.seq += 1;
  const text = `id: ${p.seq}\ndata: ${JSON.stringify(obj)}\n\n`;
  for (const s of p.streams) s.write(text);
}

function readBody(req, done) {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= BODY_LIMIT) chunks.push(c); });
  req.on('end', () => done(size > BODY_LIMIT ? null : Buffer.concat(chunks).toString('utf8')));
}

function createSession(req, res) {
  if (req.headers.authorization !== `Bearer ${password}`) return json(res, 401, { error: 'wrong password' });
  readBody(req, (body) => {
    let n;
    try { n = JSON.parse(body).participants; } catch (e) { return json(res, 400, { error: 'body is not JSON' }); }
    if (!Number.isInteger(n) || n <= 0 || n % GROUP_SIZE || n > SESSION_MAX)
      return json(res, 400, { error: `"participants" must be a positive multiple of ${GROUP_SIZE}` });
    const list = [];
    let group = null;
    for (let i = 0; i < n; i++) {
      if (i % GROUP_SIZE === 0) group = { total: 0, log: '', players: [] };
      const code = crypto.randomBytes(8).toString('hex');
      const p = { group, id: i % GROUP_SIZE + 1, clicks: 0, seq: 0, streams: new Set() };
      group.players.push(p);
      participants.set(code, p);
      list.push({ code, url: `/p/${code}`, group: Math.floor(i / GROUP_SIZE) + 1, id_in_group: p.id });
    }
    json(res, 201, { code: crypto.randomBytes(8).toString('hex'), participants: list });
  });
}

function events(p, req, res) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' });
  res.write('retry: 2000\n: connected\n\n');
  p.streams.add(res);
  req.on('close', () => p.streams.delete(res));
  const g = p.group;
  deliver(p, { total: g.total, log: g.log, clicks: p.clicks });   // on load
}

function live(p, req, res) {
  readBody(req, (body) => {
    if (body === null) return json(res, 413, { error: 'body too large' });
    let m;
    try { m = JSON.parse(body); } catch (e) { return json(res, 400, { error: 'body is not JSON' }); }
    if (m === null || typeof m !== 'object' || m.type !== 'add')
      return json(res, 422, { error: 'unknown message type' });
    if (!Number.isInteger(m.amount) || m.amount < 1 || m.amount > 1000)
      return json(res, 422, { error: 'amount must be an int in 1..1000' });
    const g = p.group;
    g.total += m.amount;
    p.clicks += 1;
    const state = { total: g.total, log: g.log, by: p.id };
    for (const q of g.players) deliver(q, state);
    json(res, 200, { ok: true });
  });
}

const server = http.createServer((req, res) => {
  const m = /^\/p\/([a-z0-9]+)\/(events|live)$/.exec(req.url);
  if (req.method === 'POST' && req.url === '/api/sessions') return createSession(req, res);
  if (req.url === '/healthz') { res.end('ok'); return; }
  if (!m) return json(res, 404, { error: 'not found' });
  const p = participants.get(m[1]);
  if (!p) return json(res, 404, { error: 'unknown participant' });
  if (m[2] === 'events' && req.method === 'GET') return events(p, req, res);
  if (m[2] === 'live' && req.method === 'POST') return live(p, req, res);
  return json(res, 405, { error: 'method not allowed' });
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/`);
});
setInterval(() => {
  for (const p of participants.values()) for (const s of p.streams) s.write(': ping\n\n');
}, PING_MS).unref();
const quit = () => { server.close(); process.exit(0); };
process.on('SIGINT', quit);
process.on('SIGTERM', quit);
setTimeout(quit, MAX_LIFETIME_MS).unref();
