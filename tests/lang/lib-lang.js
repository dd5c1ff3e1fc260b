// lib-lang.js -- what the language behaviour tests (tests/lang/*.js) add to
// tests/e2e/lib.js: compile a .live program that sits next to the test
// (tests/lang/NAME.live, not games/), start its server, make one session,
// and drive its players over HTTP + SSE with short helpers.
//
// Environment: LIVEC (the compiler under test), as for lib.js.  Every wait is
// bounded (lib.js's limits); servers die with the process.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('../e2e/lib.js');

/* Bound of one compile (livec + cc on a busy 2-core machine), ms. */
const COMPILE_MS = 120000;

/* Compiles tests/lang/NAME.live with livec in `dir`; returns the binary's
 * path, or null after a failed check. */
function compileLang(name, dir) {
  const src = path.join(__dirname, `${name}.live`);
  const r = spawnSync(lib.LIVEC, [src], { cwd: dir, encoding: 'utf8', timeout: COMPILE_MS });
  const bin = path.join(dir, name);
  const ok = r.status === 0 && fs.existsSync(bin);
  lib.check(`livec compiles tests/lang/${name}.live`, ok,
    `status ${r.status} ${r.error || ''} ${r.stderr || ''} ${r.stdout || ''}`);
  return ok ? bin : null;
}

/* One participant: its code, its event stream, and send(). */
class Player {
  constructor(base, p) {
    this.base = base;
    this.code = p.code;
    this.id = p.id_in_group;
    this.group = p.group;
    this.stream = null;
  }

  /* Opens the event stream (which runs `on load`). */
  async open() {
    this.stream = await lib.openStream(this.base, this.code, undefined, `player ${this.id} of group ${this.group}`);
    return this;
  }

  /* POSTs one live message; resolves with lib.http's answer. */
  send(body) { return lib.http(this.base, 'POST', `/p/${this.code}/live`, body); }

  /* The data of every message event so far. */
  msgs() { return this.stream ? this.stream.messages().map((e) => e.data) : []; }

  /* Waits for a message whose data satisfies pred (data, or undefined). */
  async waitFor(pred, ms) {
    const e = await this.stream.waitFor(pred, ms);
    return e ? e.data : undefined;
  }

  /* Sends body, expects 200, and returns the first message received after
   * it that satisfies pred (default: any). */
  async ask(body, pred = () => true, ms) {
    const before = this.stream.events.length;
    const r = await this.send(body);
    if (r.status !== 200) return { error: r };
    const end = Date.now() + (ms || lib.WAIT_MS);
    for (;;) {
      const hit = this.stream.events.slice(before).find((e) => {
        try { return e.event === 'message' && pred(e.data); } catch (err) { return false; }
      });
      if (hit) return hit.data;
      if (Date.now() >= end || this.stream.ended) return undefined;
      await lib.sleep(15);
    }
  }

  close() { if (this.stream) this.stream.close(); }
}

/* Compiles NAME, starts its server and makes a session of n participants
 * whose streams are open.  Resolves {srv, bin, dir, session, players} or null (a
 * failed check says why). */
async function setup(name, n) {
  const dir = lib.tmpdir(name);
  const bin = compileLang(name, dir);
  if (!bin) return null;
  const srv = new lib.Server(bin, dir);
  if (!lib.check(`${name}: server starts`, await srv.start(), srv.stderr)) return null;
  const session = await lib.newSession(srv.base, n);
  if (!session) return null;
  const players = [];
  for (const p of session.participants) players.push(await new Player(srv.base, p).open());
  return { srv, bin, dir, session, players };
}

/* GET /api/sessions/S (admin): the session's state JSON, or null. */
async function adminState(base, code) {
  const r = await lib.http(base, 'GET', `/api/sessions/${code}`, undefined, lib.admin);
  return r.status === 200 ? r.json : null;
}

module.exports = { ...lib, compileLang, Player, setup, adminState };
