// lib.js -- shared pieces of the end-to-end tests (tests/e2e/e2e_*.js): build
// a game with the livec under test, run its server, and talk to it over HTTP
// and Server-Sent Events the way a browser does, with node 20's fetch only
// (no npm packages; the SSE parser below is hand-written after the WHATWG
// "event stream interpretation" rules).
//
// Environment: LIVEC (the compiler, default ./livec), GAMES (the games/
// folder, default ../../games next to this file).  Every wait is bounded so
// a hang fails the test instead of blocking `make check`; every server a
// test starts is killed when the process exits, and its temporary folder
// is removed (kept, and named, when a check failed).  Output is TAP-like
// ("ok N - name" / "not ok N - name # detail") and ends with the plain line
// "N passed, M failed"; the exit status is 1 if anything failed, 77 (skip)
// when livec has not been built.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const LIVEC = path.resolve(process.env.LIVEC || './livec');
const GAMES = path.resolve(process.env.GAMES || path.join(__dirname, '..', '..', 'games'));
const PW = 'pw';

/* Bounds of every wait (ms). */
const COMPILE_MS = 120000;     // livec + cc on a busy 2-core machine
const START_MS = 10000;        // server start to "listening on"
const STOP_MS = 5000;          // SIGTERM to exit before SIGKILL
const HTTP_MS = 10000;         // one HTTP request
const WAIT_MS = 4000;          // an expected event
const QUIET_MS = 300;          // how long "nothing more arrives" is watched
const WHOLE_TEST_MS = 240000;  // the whole script

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let nChecks = 0;
let nFailed = 0;
const servers = new Set();
const dirs = [];

/* Records one check; prints "ok N - name" or "not ok N - name # detail".
 * Returns ok as a boolean so callers can stop early. */
function check(name, ok, detail) {
  nChecks++;
  if (!ok) nFailed++;
  const more = ok || detail === undefined ? '' : ' # ' + String(detail).replace(/\s+/g, ' ').slice(0, 400);
  console.log(`${ok ? 'ok' : 'not ok'} ${nChecks} - ${name}${more}`);
  return !!ok;
}

/* Prints the summary and exits: 0 when every check passed (and there was at
 * least one), else 1. */
function finish() {
  killAll();
  for (const d of dirs) {
    if (nFailed) console.log(`# kept ${d}`);
    else fs.rmSync(d, { recursive: true, force: true });
  }
  console.log(`1..${nChecks}`);
  console.log(`${nChecks - nFailed} passed, ${nFailed} failed`);
  process.exit(nFailed || nChecks === 0 ? 1 : 0);
}

function killAll() {
  for (const s of servers) {
    try { s.proc.kill('SIGKILL'); } catch (e) { /* already gone */ }
  }
}
process.on('exit', killAll);

/* Runs `main` with a watchdog; any exception is a failed check. */
function run(main) {
  const dog = setTimeout(() => {
    check(`the whole test ends within ${WHOLE_TEST_MS / 1000} s`, false, 'watchdog fired');
    finish();
  }, WHOLE_TEST_MS);
  if (!fs.existsSync(LIVEC)) {
    console.log(`# SKIP: ${LIVEC} is not built`);
    process.exit(77);
  }
  main().catch((e) => {
    check('the scenario ran without an exception', false, e && e.stack);
  }).finally(() => {
    clearTimeout(dog);
    killAll();
    finish();
  });
}

function tmpdir(tag) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `livec-e2e-${tag}-`));
  dirs.push(d);
  return d;
}

/* Compiles GAMES/NAME.live with livec in `dir`; returns the binary's path,
 * or null (after a failed check) if that did not work. */
function compile(name, dir) {
  const src = path.join(GAMES, `${name}.live`);
  const r = spawnSync(LIVEC, [src], { cwd: dir, encoding: 'utf8', timeout: COMPILE_MS });
  const bin = path.join(dir, name);
  const ok = r.status === 0 && fs.existsSync(bin);
  check(`livec compiles games/${name}.live`, ok,
    `status ${r.status} ${r.error || ''} ${r.stderr || ''} ${r.stdout || ''}`);
  return ok ? bin : null;
}

/* A game server process: start(port) resolves with its base URL
 * ("http://127.0.0.1:PORT") once it printed `listening on`, or null.
 * port 0 (the default) lets the server pick a free one. */
class Server {
  constructor(bin, dir, db) {
    this.bin = bin;
    this.dir = dir;
    this.db = db || path.join(dir, 'game.sqlite3');
    this.stdout = '';
    this.stderr = '';
    this.base = null;
  }

  start(port = 0) {
    return new Promise((resolve) => {
      this.proc = spawn(this.bin, ['--port', String(port), '--db', this.db, '--admin-password', PW],
        { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      servers.add(this);
      let settled = false;
      const done = (v) => { if (!settled) { settled = true; clearTimeout(t); resolve(v); } };
      const t = setTimeout(() => { this.kill(); done(null); }, START_MS);
      this.proc.stdout.on('data', (d) => {
        this.stdout += d;
        const m = this.stdout.match(/listening on (http:\/\/[^\s/]+)\/?\s/);
        if (m && !this.base) { this.base = m[1]; done(this.base); }
      });
      this.proc.stderr.on('data', (d) => { this.stderr += d; });
      this.proc.on('exit', (code, sig) => {
        this.exit = { code, sig };
        servers.delete(this);
        done(null);
      });
    });
  }

  alive() { return this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }

  kill() { try { this.proc.kill('SIGKILL'); } catch (e) { /* gone */ } }

  /* Sends `sig` and resolves with {code, sig} once it exited (SIGKILL after
   * STOP_MS; then sig is 'SIGKILL'). */
  stop(sig = 'SIGTERM') {
    return new Promise((resolve) => {
      if (!this.alive()) { resolve(this.exit); return; }
      const t = setTimeout(() => this.kill(), STOP_MS);
      this.proc.once('exit', (code, s) => { clearTimeout(t); resolve({ code, sig: s }); });
      this.proc.kill(sig);
    });
  }
}

/* One HTTP request.  `body`: a string is sent as is, anything else as JSON.
 * Resolves (never rejects) with {status, text, json, type, headers};
 * status 0 when the request failed. */
async function http(base, method, p, body, headers = {}) {
  const init = { method, headers: { ...headers }, redirect: 'manual', signal: AbortSignal.timeout(HTTP_MS) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (!init.headers['Content-Type']) init.headers['Content-Type'] = 'application/json';
  }
  try {
    const res = await fetch(base + p, init);
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
    return { status: res.status, text, json, type: res.headers.get('content-type') || '', headers: res.headers };
  } catch (e) {
    return { status: 0, text: String(e), json: null, type: '', headers: new Headers() };
  }
}

const admin = { Authorization: `Bearer ${PW}` };

/* Creates a session of n participants; returns the 201 body or null. */
async function newSession(base, n) {
  const r = await http(base, 'POST', '/api/sessions', { participants: n }, admin);
  const ok = r.status === 201 && r.json && typeof r.json.code === 'string' &&
    Array.isArray(r.json.participants) && r.json.participants.length === n;
  check(`POST /api/sessions creates a session of ${n} (201)`, ok, `${r.status} ${r.text}`);
  return ok ? r.json : null;
}

/* A Server-Sent Events stream of one participant, read with fetch.
 * events: [{id, event, data (parsed JSON, or {__raw} if not JSON)}];
 * comments counts the comment lines (": ping"). */
class Stream {
  constructor(base, code, lastId) {
    this.base = base;
    this.code = code;
    this.lastId = lastId;
    this.events = [];
    this.comments = 0;
    this.status = 0;
    this.type = '';
    this.ended = false;
    this.error = null;
    this.ctrl = new AbortController();
  }

  /* Opens the stream; resolves once the answer's headers arrived (check
   * .status).  The body is then read in the background. */
  async open() {
    const headers = { Accept: 'text/event-stream' };
    if (this.lastId !== undefined) headers['Last-Event-ID'] = String(this.lastId);
    const timer = setTimeout(() => this.ctrl.abort(), HTTP_MS);
    try {
      const res = await fetch(`${this.base}/p/${this.code}/events${this.query || ''}`,
        { headers, signal: this.ctrl.signal });
      clearTimeout(timer);
      this.status = res.status;
      this.type = res.headers.get('content-type') || '';
      if (res.status !== 200) {
        this.text = await res.text();
        this.ended = true;
        return this;
      }
      this.reading = this.read(res.body);
    } catch (e) {
      clearTimeout(timer);
      this.error = e;
      this.ended = true;
    }
    return this;
  }

  async read(body) {
    const decoder = new TextDecoder('utf-8');
    let buf = '';
    let data = [];
    let event = '';
    let id = null;
    const line = (l) => {
      if (l === '') {                       // blank line: dispatch
        if (data.length) {
          const text = data.join('\n');
          let parsed;
          try { parsed = JSON.parse(text); } catch (e) { parsed = { __raw: text }; }
          this.events.push({ id, event: event || 'message', data: parsed });
        }
        data = []; event = '';
        return;
      }
      if (l[0] === ':') { this.comments++; return; }
      const c = l.indexOf(':');
      const field = c < 0 ? l : l.slice(0, c);
      let value = c < 0 ? '' : l.slice(c + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'event') event = value;
      else if (field === 'id') id = value;      // the id persists, as in EventSource
      else if (field === 'retry') this.retry = Number(value);
    };
    try {
      for await (const chunk of body) {
        buf += decoder.decode(chunk, { stream: true });
        let m;
        while ((m = /\r\n|\r|\n/.exec(buf)) !== null) {
          // A lone \r at the end may be the first half of \r\n: wait for more.
          if (m[0] === '\r' && m.index === buf.length - 1) break;
          line(buf.slice(0, m.index));
          buf = buf.slice(m.index + m[0].length);
        }
      }
    } catch (e) {
      if (!this.ctrl.signal.aborted) this.error = e;
    }
    this.ended = true;
  }

  messages() { return this.events.filter((e) => e.event === 'message'); }

  /* Waits for an event whose data satisfies pred; returns it or undefined. */
  async waitFor(pred, ms = WAIT_MS, kind = 'message') {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.events.find((e) => {
        try { return e.event === kind && pred(e.data); } catch (err) { return false; }
      });
      if (hit) return hit;
      if (Date.now() >= end || this.ended) return undefined;
      await sleep(15);
    }
  }

  /* Waits until at least n events arrived; true if they did. */
  async waitCount(n, ms = WAIT_MS) {
    const end = Date.now() + ms;
    while (this.events.length < n && Date.now() < end && !this.ended) await sleep(15);
    return this.events.length >= n;
  }

  ids() { return this.events.map((e) => Number(e.id)); }

  lastEventId() { return this.events.length ? this.events[this.events.length - 1].id : undefined; }

  close() { this.ctrl.abort(); }
}

/* Opens a stream and checks that it is a 200 text/event-stream. */
async function openStream(base, code, lastId, label) {
  const s = await new Stream(base, code, lastId).open();
  check(`${label}: GET /p/P/events is 200 text/event-stream`,
    s.status === 200 && /^text\/event-stream/.test(s.type),
    `${s.status} ${s.type} ${s.error || ''} ${s.text || ''}`);
  return s;
}

// JSON objects are unordered: compare with sorted keys.
const canon = (v) => (Array.isArray(v) ? v.map(canon) : v && typeof v === 'object'
  ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v);
const eq = (a, b) => JSON.stringify(canon(a)) === JSON.stringify(canon(b));

/* True if r is an error answer with `status` and a JSON {"error": string}
 * matching re (when given). */
const isError = (r, status, re) => r.status === status && r.json !== null &&
  typeof r.json === 'object' && typeof r.json.error === 'string' && (!re || re.test(r.json.error));

/* True if ids are consecutive integers starting at `first`. */
const consecutive = (ids, first) => ids.length > 0 && ids.every((v, i) => v === first + i);

/* The rows of CSV text (RFC 4180: quoted cells, "" for a quote, CRLF or
 * LF), each an array of cells, the header row first. */
function csvRows(text) {
  const rows = [];
  let row = [], cell = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { row.push(cell); cell = ''; }
    else if (ch === '\n') { row.push(cell); rows.push(row); row = []; cell = ''; }
    else if (ch !== '\r') cell += ch;
  }
  if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

/* CSV text as an array of objects keyed by the header row. */
function parseCsv(text) {
  const [head, ...body] = csvRows(text);
  return body.map((r) => Object.fromEntries(head.map((h, k) => [h, r[k]])));
}

module.exports = {
  LIVEC, GAMES, PW, admin, QUIET_MS, WAIT_MS, sleep, check, run, tmpdir, compile,
  Server, http, newSession, Stream, openStream, eq, isError, consecutive, csvRows, parseCsv,
};
