// cdp.js -- a minimal Chrome DevTools Protocol client for e2e_browser.js:
// starts headless Chromium with --remote-debugging-pipe (JSON messages
// separated by NUL bytes on file descriptors 3 and 4, so no WebSocket and no
// npm package is needed), opens pages, evaluates expressions in them and
// collects console messages, exceptions and browser log entries (CSP
// violations show up there).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

/* One CDP command's answer must come within this (ms). */
const COMMAND_MS = 15000;

/* The Chromium executable: $CHROMIUM, else the first found on PATH; null if
 * there is none. */
function findChromium() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

class Browser {
  constructor(exe) {
    this.exe = exe;
    this.nextId = 0;
    this.pending = new Map();
    this.logs = [];           // "console.error: ...", "exception: ...", "log.error: ..."
  }

  /* Starts the browser (headless, its own temporary profile). */
  start() {
    this.profile = fs.mkdtempSync(path.join(os.tmpdir(), 'livec-e2e-chromium-'));
    this.proc = spawn(this.exe, ['--headless=new', '--remote-debugging-pipe', '--no-sandbox',
      '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--disable-extensions',
      `--user-data-dir=${this.profile}`, '--window-size=800,900'],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', () => {});
    this.proc.on('error', () => {});
    let buf = Buffer.alloc(0);
    this.proc.stdio[4].on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      let i;
      while ((i = buf.indexOf(0)) >= 0) {
        const text = buf.subarray(0, i).toString('utf8');
        buf = buf.subarray(i + 1);
        this.onMessage(JSON.parse(text));
      }
    });
    this.proc.stdio[3].on('error', () => {});
  }

  onMessage(msg) {
    if (msg.id !== undefined && this.pending.has(msg.id)) {
      const { resolve, reject, timer } = this.pending.get(msg.id);
      clearTimeout(timer);
      this.pending.delete(msg.id);
      if (msg.error) reject(new Error(JSON.stringify(msg.error)));
      else resolve(msg.result);
      return;
    }
    const p = msg.params || {};
    if (msg.method === 'Runtime.consoleAPICalled') {
      this.logs.push(`console.${p.type}: ` + (p.args || []).map((a) => (a.value !== undefined ? JSON.stringify(a.value) : a.description)).join(' '));
    } else if (msg.method === 'Runtime.exceptionThrown') {
      const d = p.exceptionDetails || {};
      this.logs.push('exception: ' + ((d.exception && d.exception.description) || d.text));
    } else if (msg.method === 'Log.entryAdded') {
      this.logs.push(`log.${p.entry.level}: ${p.entry.text}`);
    }
  }

  /* Sends one command; resolves with its result, rejects on error/timeout. */
  send(method, params = {}, sessionId) {
    const id = ++this.nextId;
    const m = { id, method, params };
    if (sessionId) m.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no answer to ${method}`));
      }, COMMAND_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.proc.stdio[3].write(JSON.stringify(m) + '\0');
    });
  }

  /* Opens a new tab; `early` is a script run in every document of the tab
   * before its own scripts.  Returns the tab's session id. */
  async page(url, early) {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    for (const d of ['Page.enable', 'Runtime.enable', 'Log.enable']) await this.send(d, {}, sessionId);
    if (early) await this.send('Page.addScriptToEvaluateOnNewDocument', { source: early }, sessionId);
    await this.send('Page.navigate', { url }, sessionId);
    return sessionId;
  }

  /* Evaluates expr in the tab (awaiting a Promise); returns its JSON value. */
  async eval(sessionId, expr) {
    const r = await this.send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true }, sessionId);
    if (r.exceptionDetails) throw new Error(`${expr}: ${JSON.stringify(r.exceptionDetails.exception || r.exceptionDetails.text)}`);
    return r.result.value;
  }

  /* Polls expr in the tab until it is truthy; returns the value, or the
   * last falsy one after ms. */
  async until(sessionId, expr, ms = 4000) {
    const end = Date.now() + ms;
    let v;
    for (;;) {
      try { v = await this.eval(sessionId, expr); } catch (e) { v = undefined; }   // navigating
      if (v || Date.now() >= end) return v;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /* Writes a PNG of the tab to file (for a person to look at). */
  async screenshot(sessionId, file) {
    await this.send('Page.bringToFront', {}, sessionId);
    const r = await this.send('Page.captureScreenshot', { format: 'png' }, sessionId);
    fs.writeFileSync(file, Buffer.from(r.data, 'base64'));
  }

  /* Closes the browser (Browser.close, then SIGKILL if it is still there
   * after STOP_MS), waits for it, and removes its profile. */
  async stop() {
    const STOP_MS = 3000;
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const gone = new Promise((r) => this.proc.once('exit', r));
      this.send('Browser.close').catch(() => {});
      const t = setTimeout(() => { try { this.proc.kill('SIGKILL'); } catch (e) { /* gone */ } }, STOP_MS);
      await gone;
      clearTimeout(t);
    }
    try {
      fs.rmSync(this.profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch (e) { /* still in use: left in the temporary folder */ }
  }
}

module.exports = { Browser, findChromium };
