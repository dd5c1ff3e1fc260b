// lib.js -- shared pieces of the browser tests in tests/browser/ (run them
// all with tests/browser/run): compile a game with the livec under test,
// run its server (on a given port, so that a test can restart it on the same
// address), drive Debian's chromium through playwright-core, and count
// checks.  Every wait is bounded; every server is killed when the process
// exits; screenshots go to $ARTIFACTS (default tests/browser/artifacts).
//
// Environment: LIVEC (default `livec` on PATH), GAMES (default ../../games),
// CHROMIUM (default /usr/bin/chromium), ARTIFACTS.
// Output: "ok  NAME" / "FAIL NAME -- detail" lines and a last line
// "N passed, M failed"; exit 0, 1 when a check failed, 77 to skip (no
// playwright-core or no chromium).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const LIVEC = process.env.LIVEC || 'livec';
const GAMES = path.resolve(process.env.GAMES || path.join(__dirname, '..', '..', 'games'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.resolve(process.env.ARTIFACTS || path.join(__dirname, 'artifacts'));
const PW = 'pw';

/* Bounds (ms). */
const START_MS = 15000;       // server start to "listening on"
const WAIT_MS = 8000;         // one expected change on a page
const WHOLE_TEST_MS = 180000; // one test script

let passed = 0, failed = 0;
const servers = new Set();
const dirs = [];

/* Records one check and prints it; returns ok. */
function check(name, ok, detail) {
  if (ok) passed++; else failed++;
  const more = ok || detail === undefined ? '' : ' -- ' + String(detail).replace(/\s+/g, ' ').slice(0, 500);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${more}`);
  return !!ok;
}

/* Awaits p; a rejection (a timeout) is a failed check, a resolution a passed one. */
async function expect(name, p) {
  try {
    await p;
    return check(name, true);
  } catch (e) {
    return check(name, false, e && e.message ? e.message.split('\n')[0] : e);
  }
}

function killAll() {
  for (const s of servers) {
    try { s.proc.kill('SIGKILL'); } catch (e) { /* gone */ }
  }
}
process.on('exit', killAll);

/* A free TCP port on 127.0.0.1 (bind to 0, read, close). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/* A fresh temporary folder (removed at the end unless a check failed). */
function tmpdir(tag) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `browser-${tag}-`));
  dirs.push(d);
  return d;
}

/* Compiles games/NAME.live (or the file at `source`) into dir; returns the
 * executable's path or null (a failed check). */
function build(dir, source) {
  const file = source || path.join(GAMES, 'x.live');
  const c = spawnSync(LIVEC, [file], { cwd: dir, encoding: 'utf8', timeout: 180000 });
  if (!check(`livec builds ${path.basename(file)}`, c.status === 0, c.stderr || c.error)) return null;
  const m = /^\s*game\s+([A-Za-z_][A-Za-z0-9_]*)/m.exec(fs.readFileSync(file, 'utf8'));
  return path.join(dir, m ? m[1] : 'game');
}

/* Starts the server `exe` with its database in dir on `port`; resolves with
 * {proc, base, out, links} once it listens (links: the demo players' URLs
 * when it printed them). */
function start(exe, dir, port) {
  return new Promise((resolve, reject) => {
    const proc = spawn(exe, ['--port', String(port), '--db', path.join(dir, 'db.sqlite3'),
      '--admin-password', PW], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const s = { proc, out: '', err: '' };
    servers.add(s);
    const t = setTimeout(() => reject(new Error('server did not start: ' + s.out + s.err)), START_MS);
    proc.stderr.on('data', (d) => { s.err += d; });
    proc.on('error', (e) => { clearTimeout(t); reject(e); });
    proc.on('exit', () => servers.delete(s));
    let settle = null;
    const ready = () => {
      clearTimeout(t);
      clearTimeout(settle);
      s.base = /listening on (http:\/\/\S+?)\/?\n/.exec(s.out)[1];
      s.links = [...s.out.matchAll(/player \d+: (\S+)/g)].map((x) => x[1]);
      resolve(s);
    };
    proc.stdout.on('data', (d) => {
      s.out += d;
      if (!/listening on \S+\n/.test(s.out)) return;
      // a fresh database: the demo links and the admin URL follow at once
      if (/admin: \S+\n/.test(s.out)) ready();
      else if (!settle) settle = setTimeout(ready, 300);
    });
  });
}

/* Stops a server with SIGTERM (SIGKILL after 5 s); resolves with its exit code. */
function stop(s) {
  return new Promise((resolve) => {
    if (s.proc.exitCode !== null) { resolve(s.proc.exitCode); return; }
    const t = setTimeout(() => s.proc.kill('SIGKILL'), 5000);
    s.proc.once('exit', (code) => { clearTimeout(t); resolve(code); });
    s.proc.kill('SIGTERM');
  });
}

/* The admin JSON API: resolves with {status, json, text}. */
async function api(base, method, p, body) {
  const res = await fetch(base + p, {
    method, headers: { Authorization: 'Bearer ' + PW, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, json, text };
}

/* Launches chromium; exits 77 when it or playwright-core is missing. */
async function launch() {
  let chromium;
  try { ({ chromium } = require('playwright-core')); } catch (e) {
    console.log('SKIP: playwright-core is not installed (npm install --prefix tests/browser)');
    process.exit(77);
  }
  if (!fs.existsSync(CHROMIUM)) { console.log(`SKIP: no browser at ${CHROMIUM}`); process.exit(77); }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

/* Saves a screenshot of page as ARTIFACTS/name.png (never fails the test). */
async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name + '.png'), fullPage: true }).catch(() => {});
}

/* Runs main(browser) with a watchdog, then prints the summary and exits. */
function run(main) {
  const dog = setTimeout(() => {
    check(`the test ends within ${WHOLE_TEST_MS / 1000} s`, false, 'watchdog fired');
    done();
  }, WHOLE_TEST_MS);
  let browser = null;
  function done() {
    clearTimeout(dog);
    killAll();
    for (const d of dirs) {
      if (failed) console.log(`# kept ${d}`);
      else fs.rmSync(d, { recursive: true, force: true });
    }
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed || passed === 0 ? 1 : 0);
  }
  launch().then(async (b) => {
    browser = b;
    try {
      await main(browser);
    } catch (e) {
      check('the scenario ran to its end', false, e && e.stack ? e.stack : e);
    }
  }).catch((e) => check('chromium starts', false, e && e.message))
    .then(async () => {
      if (browser) await browser.close().catch(() => {});
      done();
    });
}

module.exports = { check, expect, freePort, tmpdir, build, start, stop, api, run, shot,
  GAMES, ARTIFACTS, PW, WAIT_MS };
