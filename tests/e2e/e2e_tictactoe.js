// e2e_tictactoe.js -- end-to-end test of games/tictactoe.live: compile it with
// livec, run the server, and play through HTTP and SSE as two browsers would
// (PROTOCOL.md): the board `on load` sends, legal and refused moves (out of
// turn, a bad square, a taken square), a win with the finish event for both
// players, event ids 1, 2, 3 ..., replay with Last-Event-ID, a fresh stream
// running `on load`, a restart after kill -9 that keeps every acknowledged
// move, a draw in a second session, the pages and SIGTERM.
// Run by `make check` (tests/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/e2e/e2e_tictactoe.js
'use strict';
const path = require('path');
const {
  QUIET_MS, sleep, check, run, tmpdir, compile, Server, http, newSession,
  openStream, Stream, eq, isError, consecutive,
} = require('./lib.js');

const EMPTY = [0, 0, 0, 0, 0, 0, 0, 0, 0];

const move = (base, code, square) => http(base, 'POST', `/p/${code}/live`, { type: 'move', square });

async function main() {
  const dir = tmpdir('ttt');
  const bin = compile('tictactoe', dir);
  if (!bin) return;
  const db = path.join(dir, 'ttt.sqlite3');
  let srv = new Server(bin, dir, db);
  if (!check('server starts and prints "listening on"', await srv.start(), srv.stderr)) return;
  let base = srv.base;

  let r = await http(base, 'GET', '/healthz');
  check('GET /healthz is 200 ok', r.status === 200 && /^ok\s*$/.test(r.text), `${r.status} ${r.text}`);

  const s = await newSession(base, 2);
  if (!s) return;
  const [pa, pb] = s.participants;
  check('participants carry code, url /p/CODE, group 1 and ids 1, 2',
    pa.url === `/p/${pa.code}` && pb.url === `/p/${pb.code}` && pa.group === 1 && pb.group === 1 &&
    pa.id_in_group === 1 && pb.id_in_group === 2, JSON.stringify(s));

  // ---- pages --------------------------------------------------------------
  r = await http(base, 'GET', `/p/${pa.code}`);
  check('GET /p/P is the HTML play page that loads /live.js',
    r.status === 200 && /text\/html/.test(r.type) && /<script src="\/live\.js"><\/script>/.test(r.text),
    `${r.status} ${r.type} ${r.text.slice(0, 200)}`);
  check('the play page is games/tictactoe.html with its placeholders filled',
    /id="board"/.test(r.text) && /Tic-tac-toe/.test(r.text) && !/\{\{/.test(r.text) &&
    /Number\('1'\)/.test(r.text), r.text.slice(0, 300));
  r = await http(base, 'GET', `/p/${pb.code}`);
  check("player 2's page says it is player 2", r.status === 200 && /Number\('2'\)/.test(r.text), r.status);
  r = await http(base, 'GET', '/p/NOSUCHCODE');
  check('GET /p/UNKNOWN is 404', r.status === 404, r.status);
  r = await http(base, 'GET', '/live.js');
  check('GET /live.js is JavaScript defining liveSend',
    r.status === 200 && /javascript/.test(r.type) && /liveSend/.test(r.text), `${r.status} ${r.type}`);
  r = await http(base, 'GET', '/static/style.css');
  check('GET /static/style.css is CSS', r.status === 200 && /text\/css/.test(r.type), `${r.status} ${r.type}`);

  // ---- on load and moves --------------------------------------------------
  const a = await openStream(base, pa.code, undefined, 'player 1');
  const b = await openStream(base, pb.code, undefined, 'player 2');
  const loadA = await a.waitFor(() => true);
  const loadB = await b.waitFor(() => true);
  const start = { board: EMPTY, whose_turn: 1, winner: 0 };
  check('on load sends the empty board to each player',
    loadA && loadB && eq(loadA.data, start) && eq(loadB.data, start), JSON.stringify([a.events, b.events]));
  check('the first event of a fresh stream has id 1', loadA && loadA.id === '1' && loadB && loadB.id === '1',
    JSON.stringify([loadA, loadB]));

  r = await move(base, pb.code, 4);
  check('out-of-turn move is 422 "not your turn"', isError(r, 422, /not your turn/), `${r.status} ${r.text}`);
  r = await move(base, pa.code, 9);
  check('square 9 is 422 naming the field square', isError(r, 422, /square/), `${r.status} ${r.text}`);
  r = await move(base, pa.code, -1);
  check('square -1 is 422 naming the field square', isError(r, 422, /square/), `${r.status} ${r.text}`);
  r = await http(base, 'POST', `/p/${pa.code}/live`, { type: 'move' });
  check('a move without square is 422 naming square', isError(r, 422, /square/), `${r.status} ${r.text}`);

  r = await move(base, pa.code, 4);
  check('legal move answers 200 {"ok":true}', r.status === 200 && r.json && r.json.ok === true, `${r.status} ${r.text}`);
  const seenA = await a.waitFor((d) => d.square === 4);
  const seenB = await b.waitFor((d) => d.square === 4);
  const after4 = { board: [0, 0, 0, 0, 1, 0, 0, 0, 0], whose_turn: 2, winner: 0, square: 4, id_in_group: 1 };
  check('the move reaches both players with the state and the news',
    seenA && seenB && eq(seenA.data, after4) && eq(seenB.data, after4), JSON.stringify([seenA, seenB]));

  r = await move(base, pb.code, 4);
  check('a taken square is 422 "square already taken"', isError(r, 422, /taken/), `${r.status} ${r.text}`);
  r = await move(base, pa.code, 0);
  check('moving twice in a row is 422 "not your turn"', isError(r, 422, /not your turn/), `${r.status} ${r.text}`);

  r = await move(base, pb.code, 0);
  check('player 2 moves (200)', r.status === 200, `${r.status} ${r.text}`);
  await a.waitFor((d) => d.square === 0);
  const bLast = await b.waitFor((d) => d.square === 0);
  check('events so far on both streams are ids 1, 2, 3 (rejections send nothing)',
    eq(a.ids(), [1, 2, 3]) && eq(b.ids(), [1, 2, 3]), JSON.stringify([a.ids(), b.ids()]));

  // ---- replay with Last-Event-ID ------------------------------------------
  b.close();
  const lastB = Number(bLast ? bLast.id : b.lastEventId());
  r = await move(base, pa.code, 2);
  check('a move while player 2 is disconnected (200)', r.status === 200, `${r.status} ${r.text}`);
  await a.waitFor((d) => d.square === 2);
  const b2 = await openStream(base, pb.code, lastB, 'player 2 reconnecting');
  await b2.waitCount(1);
  await sleep(QUIET_MS);
  check('reconnecting with Last-Event-ID replays exactly the missed event and no on load',
    b2.events.length === 1 && Number(b2.events[0].id) === lastB + 1 && b2.events[0].data.square === 2 &&
    eq(b2.events[0].data.board, [2, 0, 1, 0, 1, 0, 0, 0, 0]), JSON.stringify(b2.events));

  const bq = new Stream(base, pb.code);
  bq.query = `?last_event_id=${lastB}`;      /* what live.js sends on a new EventSource */
  await bq.open();
  await bq.waitCount(1);
  await sleep(QUIET_MS);
  check('?last_event_id=N (no header) replays the same way, without on load',
    bq.status === 200 && bq.events.length === 1 && Number(bq.events[0].id) === lastB + 1 &&
    bq.events[0].data.square === 2, `${bq.status} ${JSON.stringify(bq.events)}`);
  bq.close();

  const b3 = await openStream(base, pb.code, undefined, 'player 2 fresh tab');
  const fresh = await b3.waitFor(() => true);
  check('a fresh stream runs on load: the current board, the next id',
    fresh && eq(fresh.data, { board: [2, 0, 1, 0, 1, 0, 0, 0, 0], whose_turn: 2, winner: 0 }) &&
    Number(fresh.id) === lastB + 2, JSON.stringify(b3.events));
  const echoed = await b2.waitFor((d) => d.square === undefined);
  check("the fresh tab's on load reaches every open stream of the player, with the same id",
    echoed && fresh && echoed.id === fresh.id, JSON.stringify(b2.events));
  b2.close(); b3.close(); a.close();

  // ---- kill -9 and restart ------------------------------------------------
  const beforeKillIds = { a: Math.max(...a.ids()), b: lastB + 2 };
  await srv.stop('SIGKILL');
  srv = new Server(bin, dir, db);
  if (!check('the server restarts on the same database after kill -9', await srv.start(), srv.stderr)) return;
  base = srv.base;
  const a2 = await openStream(base, pa.code, undefined, 'player 1 after restart');
  const b4 = await openStream(base, pb.code, undefined, 'player 2 after restart');
  const ra = await a2.waitFor(() => true);
  const rb = await b4.waitFor(() => true);
  const kept = { board: [2, 0, 1, 0, 1, 0, 0, 0, 0], whose_turn: 2, winner: 0 };
  check('every acknowledged move survived kill -9 (the board is as before)',
    ra && rb && eq(ra.data, kept) && eq(rb.data, kept), JSON.stringify([ra, rb]));
  check('event ids continue after the restart (never reused)',
    ra && rb && Number(ra.id) === beforeKillIds.a + 1 && Number(rb.id) === beforeKillIds.b + 1,
    JSON.stringify({ before: beforeKillIds, a: ra && ra.id, b: rb && rb.id }));

  // ---- play to a win ------------------------------------------------------
  r = await move(base, pa.code, 6);
  check('the game goes on after the restart: player 1 moves out of turn is refused',
    isError(r, 422, /not your turn/), `${r.status} ${r.text}`);
  r = await move(base, pb.code, 1);
  check('player 2 moves after the restart (200)', r.status === 200, `${r.status} ${r.text}`);
  r = await move(base, pa.code, 6);
  check('the winning move (2-4-6) answers 200', r.status === 200, `${r.status} ${r.text}`);
  const wonA = await a2.waitFor((d) => d.winner === 1);
  const wonB = await b4.waitFor((d) => d.winner === 1);
  check('both players hear that X won',
    wonA && wonB && eq(wonA.data.board, [2, 2, 1, 0, 1, 0, 1, 0, 0]) && wonA.data.square === 6,
    JSON.stringify([a2.events, b4.events]));
  const finA = await a2.waitFor(() => true, undefined, 'finish');
  const finB = await b4.waitFor(() => true, undefined, 'finish');
  check('both players get event: finish with data {"next": "/p/P"}',
    finA && finB && finA.data.next === `/p/${pa.code}` && finB.data.next === `/p/${pb.code}`,
    JSON.stringify([finA, finB]));
  check('the finish event takes the next sequence number',
    finA && wonA && Number(finA.id) === Number(wonA.id) + 1, JSON.stringify(a2.events));
  check('ids on each stream are consecutive',
    consecutive(a2.ids(), beforeKillIds.a + 1) && consecutive(b4.ids(), beforeKillIds.b + 1),
    JSON.stringify([a2.ids(), b4.ids()]));
  r = await move(base, pb.code, 8);
  check('a move after the end is 422 "the game is over"', isError(r, 422, /over/), `${r.status} ${r.text}`);

  if (!wonA) return;   // the rest needs the win
  const lastBeforeFinish = Number(wonA.id) - 1;
  const replayFin = await openStream(base, pa.code, lastBeforeFinish, 'player 1 replay of the end');
  await replayFin.waitCount(2);
  await sleep(QUIET_MS);
  check('the finish event is replayed like any message',
    replayFin.events.length === 2 && replayFin.events[0].data.winner === 1 &&
    replayFin.events[1].event === 'finish', JSON.stringify(replayFin.events));
  replayFin.close();

  r = await http(base, 'GET', `/p/${pa.code}`);
  check('after finish, GET /p/P is the results page: the board and a Next button',
    r.status === 200 && /text\/html/.test(r.type) && /id="board"/.test(r.text) &&
    /var PAGE = 'results'/.test(r.text) && r.text.includes(`action="/p/${pa.code}/next"`) && !/\{\{/.test(r.text),
    `${r.status} ${r.text.slice(0, 300)}`);
  check('the Next form names its page', r.text.includes('<input type="hidden" name="page" value="results">'),
    r.text.slice(-400));
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  r = await http(base, 'POST', `/p/${pa.code}/next`, 'page=play', form);
  check('a Next form from another page (a second click, a stale tab) answers 303 and moves nothing',
    r.status === 303, `${r.status} ${r.text}`);
  r = await http(base, 'GET', `/p/${pa.code}`);
  check('... the participant is still on the results page', /var PAGE = 'results'/.test(r.text), r.text.slice(0, 200));
  r = await http(base, 'POST', `/p/${pa.code}/next`, 'page=results', form);
  check('Next on the results page answers 303 to /p/P', r.status === 303, `${r.status} ${r.text}`);
  r = await http(base, 'GET', `/p/${pa.code}`);
  check('then GET /p/P is the finished page',
    r.status === 200 && /text\/html/.test(r.type) && !/id="board"/.test(r.text) && /you are done/i.test(r.text),
    `${r.status} ${r.text.slice(0, 300)}`);
  a2.close(); b4.close();

  // ---- a draw in a second session -----------------------------------------
  const s2 = await newSession(base, 2);
  if (s2) {
    const [x, o] = s2.participants;
    const sx = await openStream(base, x.code, undefined, 'draw session player 1');
    await sx.waitCount(1);
    let allOk = true;
    const seq = [[x, 0], [o, 1], [x, 2], [o, 4], [x, 3], [o, 5], [x, 7], [o, 6], [x, 8]];
    for (const [p, sq] of seq) {
      r = await move(base, p.code, sq);
      if (r.status !== 200) { allOk = false; break; }
    }
    check('a second session plays independently to the end', allOk, `${r.status} ${r.text}`);
    const draw = await sx.waitFor((d) => d.winner === 3);
    check('a full board without a line is a draw (winner 3)', !!draw, JSON.stringify(sx.events.slice(-2)));
    check('the draw also finishes the game', !!(await sx.waitFor(() => true, undefined, 'finish')),
      JSON.stringify(sx.events.slice(-2)));
    sx.close();
  }

  // ---- SIGTERM ------------------------------------------------------------
  const st = await srv.stop('SIGTERM');
  check('SIGTERM stops the server with status 0', st && st.code === 0, JSON.stringify(st));
}

run(main);
