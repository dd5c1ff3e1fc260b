// common.js -- what extra.js, proto.js and lang.js share: the public checks'
// lib.js (../shared/conformance, or LIVE_CONFORMANCE_DIR), a game server per
// scenario built from ./games, raw SSE reading, CSV parsing.
'use strict';
const path = require('path');
const fs = require('fs');
const CONFORMANCE = process.env.LIVE_CONFORMANCE_DIR ||
  path.join(__dirname, '..', '..', '..', 'shared', 'conformance');
const L = require(path.join(CONFORMANCE, 'lib.js'));
const { PW, sleep, check, tmpdir, compile, Server, http, newSession } = L;

const GAMES = path.join(__dirname, 'games');
const AUTH = { Authorization: `Bearer ${PW}` };

// Raw SSE reading, to see the wire format: st.text grows as bytes arrive;
// st.datas() are its data lines.
async function rawStream(base, code, headers = {}) {
  const ac = new AbortController();
  const res = await fetch(`${base}/p/${code}/events`, { headers, signal: ac.signal });
  const st = { res, text: '', done: false };
  (async () => {
    const dec = new TextDecoder();
    try { for await (const chunk of res.body) st.text += dec.decode(chunk, { stream: true }); } catch (e) { /* aborted */ }
    st.done = true;
  })();
  st.waitFor = async (re, ms = 4000) => { const end = Date.now() + ms; while (Date.now() < end) { if (re.test(st.text)) return true; await sleep(20); } return re.test(st.text); };
  st.close = () => ac.abort();
  st.datas = () => st.text.split(/\r\n|\r|\n/).filter((l) => /^data:/.test(l)).map((l) => l.replace(/^data: ?/, ''));
  return st;
}

// Each game of ./games is compiled once per run (with the other files of
// ./games beside it: templates).
const bins = {};
function build(game) {
  if (game in bins) return bins[game];
  const dir = tmpdir(game);
  for (const f of fs.readdirSync(GAMES)) fs.copyFileSync(path.join(GAMES, f), path.join(dir, f));
  const bin = compile(path.join(dir, `${game}.live`), dir);
  bins[game] = bin ? { bin, dir } : null;
  return bins[game];
}

// A started server of game (a fresh database unless db names one), or null.
async function boot(game, db) {
  const b = build(game);
  if (!b) return null;
  const srv = new Server(b.bin, b.dir, db || path.join(tmpdir(`${game}db`), 'g.sqlite3'));
  if (!check(`${game}: server starts`, await srv.start(), srv.stderr)) return null;
  return srv;
}

// Runs fn(srv, cs) against a fresh server of game; closes the clients fn
// pushed on cs, then stops the server and checks that SIGTERM exits 0.
async function withSrv(game, fn, db) {
  const srv = await boot(game, db);
  if (!srv) return;
  const cs = [];
  try { await fn(srv, cs); } catch (e) { check(`${game}: scenario ran without exception`, false, e.stack); }
  finally {
    cs.forEach((c) => c.close());
    const st = await srv.stop();
    check(`${game}: SIGTERM exits 0`, st && st.code === 0, JSON.stringify(st));
  }
}

/* A session of 2 on srv with both players' streams open (clients of class
 * Cl, in cs) and their `on load` message in: {s, pa, pb, a, b}, or null. */
async function pairUp(srv, cs, Cl) {
  const s = await newSession(srv.base, 2);
  if (!s) return null;
  const [pa, pb] = s.participants;
  const a = new Cl(srv.base, pa.code); const b = new Cl(srv.base, pb.code); cs.push(a, b);
  await a.waitCount(1); await b.waitCount(1);
  return { s, pa, pb, a, b };
}

// RFC 4180 text -> rows of cells.
function parseCsv(t) {
  const out = []; let row = []; let f = ''; let q = false;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i];
    if (q) { if (ch === '"') { if (t[i + 1] === '"') { f += '"'; i++; } else q = false; } else f += ch; }
    else if (ch === '"') q = true;
    else if (ch === ',') { row.push(f); f = ''; }
    else if (ch === '\n' || ch === '\r') { if (ch === '\r' && t[i + 1] === '\n') i++; row.push(f); out.push(row); row = []; f = ''; }
    else f += ch;
  }
  if (f !== '' || row.length) { row.push(f); out.push(row); }
  return out;
}

const isJsonErr = (r) => r.json && typeof r.json.error === 'string' && r.json.error.length > 0;

module.exports = { L, GAMES, AUTH, rawStream, build, boot, withSrv, pairUp, parseCsv, isJsonErr };
