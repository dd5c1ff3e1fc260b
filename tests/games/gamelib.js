// gamelib.js -- what the game tests (tests/games/NAME.js) share, on top of
// the e2e helper library tests/e2e/lib.js (reused, not changed): compile a
// game from games/ -- optionally with some of its `const` declarations
// replaced, so that a game meant for people (a 60 s deadline) can be tested
// in a second -- start its server, create a session and connect every
// participant's event stream, then send messages as those participants.
//
// A compile must succeed without a single warning from livec or the C
// compiler.  Every wait is bounded by lib.js (WAIT_MS per event).
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const lib = require('../e2e/lib.js');

const COMPILE_MS = 120000;   // livec + cc on a busy 2-core machine

/* Replaces `const NAME = ...;` in source text for each NAME of patch (a
 * {NAME: "new expression"} object).  Throws if a constant is not there,
 * so a renamed constant fails the test loudly instead of silently testing
 * the slow version. */
function patchConsts(text, patch) {
  for (const [name, value] of Object.entries(patch)) {
    const re = new RegExp(`(^|\\n)(\\s*const\\s+${name}\\s*=)[^;]*;`);
    if (!re.test(text)) throw new Error(`const ${name} not found in the game`);
    text = text.replace(re, `$1$2 ${value};`);
  }
  return text;
}

/* Compiles games/NAME.live into `dir` (a copy with `patch` applied when
 * given; the templates it names are copied next to it).  One check: livec
 * exits 0, writes the binary and prints no warning.  Returns the binary's
 * path, or null. */
function compileGame(name, dir, patch) {
  let src = path.join(lib.GAMES, `${name}.live`);
  let label = `livec compiles games/${name}.live without warnings`;
  if (patch && Object.keys(patch).length) {
    const text = fs.readFileSync(src, 'utf8');
    const srcDir = path.join(dir, 'src');
    fs.mkdirSync(srcDir, { recursive: true });
    for (const m of text.matchAll(/template\s+"([^"]+)"/g)) {
      fs.copyFileSync(path.join(lib.GAMES, m[1]), path.join(srcDir, path.basename(m[1])));
    }
    src = path.join(srcDir, `${name}.live`);
    fs.writeFileSync(src, patchConsts(text, patch));
    label += ` (with ${Object.entries(patch).map(([k, v]) => `${k} = ${v}`).join(', ')})`;
  }
  const r = spawnSync(lib.LIVEC, [src], { cwd: dir, encoding: 'utf8', timeout: COMPILE_MS });
  const bin = path.join(dir, name);
  const out = `${r.stderr || ''}${r.stdout || ''}`;
  const ok = r.status === 0 && fs.existsSync(bin) && !/warning/i.test(out);
  lib.check(label, ok, `status ${r.status} ${r.error || ''} ${out}`);
  return ok ? bin : null;
}

/* POSTs one message as participant `code`; resolves with lib.http's answer. */
const send = (base, code, body) => lib.http(base, 'POST', `/p/${code}/live`, body);

/* A started game: compiles NAME, runs its server, creates a session of n
 * participants and, unless opts.connect is false, opens every participant's
 * stream and waits for its first event (what `on load` sends).  Resolves
 * with {srv, base, session, players} or null after a failed check; each
 * player is {code, id (in group), group, stream, first (event), send(type,
 * fields)}, and restart(sig) (see below). */
async function startGame(name, n, opts = {}) {
  const dir = lib.tmpdir(name);
  const bin = compileGame(name, dir, opts.patch);
  if (!bin) return null;
  const srv = new lib.Server(bin, dir);
  if (!lib.check('server starts and prints "listening on"', await srv.start(), srv.stderr)) return null;
  const base = srv.base;
  const session = await lib.newSession(base, n);
  if (!session) return null;
  const game = { srv, base, session, players: null };
  const players = session.participants.map((p) => ({
    code: p.code,
    id: p.id_in_group,
    group: p.group,
    stream: null,
    first: null,
    send(type, fields = {}) { return send(game.base, p.code, { type, ...fields }); },
  }));
  game.players = players;
  if (opts.connect !== false) {
    for (const p of players) await connect(base, p);
  }
  /* Kills the server with `sig` and starts it again on the same database;
   * updates game.srv and game.base and resolves with the new base URL, or
   * null after a failed check.  The players' streams are closed. */
  game.restart = async (sig = 'SIGKILL') => {
    closeAll(players);
    await game.srv.stop(sig);
    game.srv = new lib.Server(bin, dir);
    const b = await game.srv.start();
    lib.check(`the server restarts on the same database after ${sig}`, !!b, game.srv.stderr);
    game.base = b;
    return b;
  };
  return game;
}

/* Opens player p's stream (fresh: runs `on load`) and waits for its first
 * event, stored in p.first.  One check per player. */
async function connect(base, p) {
  p.stream = await lib.openStream(base, p.code, undefined, `group ${p.group} player ${p.id}`);
  p.first = await p.stream.waitFor(() => true);
  lib.check(`group ${p.group} player ${p.id}: on load answers the fresh stream`, !!p.first,
    JSON.stringify(p.stream.events));
  return p;
}

/* The session's state from the admin API (GET /api/sessions/S), or null. */
async function sessionState(base, code) {
  const r = await lib.http(base, 'GET', `/api/sessions/${code}`, undefined, lib.admin);
  return r.status === 200 ? r.json : null;
}

/* Waits for the `finish` event on each stream of `players`; true if every
 * one arrived with data {"next": "/p/CODE"}. */
async function allFinished(players) {
  let ok = true;
  for (const p of players) {
    const f = await p.stream.waitFor(() => true, undefined, 'finish');
    if (!f || f.data.next !== `/p/${p.code}`) ok = false;
  }
  return ok;
}

/* True if no `finish` event reached any of `players` (after QUIET_MS). */
async function noneFinished(players) {
  await lib.sleep(lib.QUIET_MS);
  return players.every((p) => !p.stream.events.some((e) => e.event === 'finish'));
}

/* Closes every stream of `players`. */
function closeAll(players) {
  for (const p of players) if (p.stream) p.stream.close();
}

/* The last message event of p's stream that satisfies pred (or undefined). */
function last(p, pred = () => true) {
  const ms = p.stream.messages().filter((e) => { try { return pred(e.data); } catch (err) { return false; } });
  return ms.length ? ms[ms.length - 1] : undefined;
}

module.exports = {
  ...lib, patchConsts, compileGame, send, startGame, connect, sessionState, allFinished,
  noneFinished, closeAll, last,
};
