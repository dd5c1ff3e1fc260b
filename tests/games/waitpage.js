// waitpage.js -- end-to-end test of games/waitpage.live (a custom wait page
// before the play page), with WAIT_MAX shortened to 2 s, in a session of
// two groups of three.  Group 1 arrives in full: arrivals are broadcast and
// counted once per player, a message sent on the wait page is refused, the
// last arrival moves everybody to `play` at once (and the stopped timer
// never fires); on `play`, Done is counted once per player and the last one
// finishes the game.  Group 2 has a latecomer: the timer moves the two who
// came on without her, and she lands on `play` directly.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/waitpage.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError, sleep } = G;

const WAIT_MAX_MS = 2000;

/* The page name the template shows (its {{page}} placeholder), or null. */
async function pageOf(base, p) {
  const r = await G.http(base, 'GET', `/p/${p.code}`);
  const m = /var PAGE = '([a-z]+)'/.exec(r.text);
  return r.status === 200 && m ? m[1] : (r.status === 200 && /finished|done/i.test(r.text) ? 'finished' : null);
}

async function main() {
  const game = await G.startGame('waitpage', 6, { patch: { WAIT_MAX: `${WAIT_MAX_MS}ms` }, connect: false });
  if (!game) return;
  const { base, players } = game;
  const [a1, a2, a3, b1, b2, b3] = players;
  const group1 = [a1, a2, a3];

  let r = await G.http(base, 'GET', `/p/${a1.code}`);
  check('the first page is games/waitpage.html on page wait, placeholders filled',
    r.status === 200 && /var PAGE = 'wait'/.test(r.text) && /Waiting for the group/.test(r.text) &&
    !/\{\{/.test(r.text) && /Number\('1'\)/.test(r.text), `${r.status} ${r.text.slice(0, 200)}`);

  // ---- group 1: everybody arrives ------------------------------------------
  await G.connect(base, a1);
  check('the first arrival hears: 1 of 3 here, with the longest wait',
    a1.first && eq(a1.first.data, { page: 'wait', arrived: 1, players: 3, wait_max: WAIT_MAX_MS,
      here: [true, false, false] }), JSON.stringify(a1.first));
  r = await a1.send('done');
  check('Done on the wait page is 422 "wait for the others first"', isError(r, 422, /wait for the others first/),
    `${r.status} ${r.text}`);
  await G.connect(base, a2);
  const two = await a1.stream.waitFor((d) => d.arrived === 2);
  check('the second arrival is broadcast to those waiting',
    two && eq(two.data.here, [true, true, false]) && a2.first && a2.first.data.arrived === 2, JSON.stringify(two));
  a1.stream.close();
  await G.connect(base, a1);
  check('reconnecting does not count a player twice', a1.first && a1.first.data.arrived === 2,
    JSON.stringify(a1.first));
  check('nobody moves on before the last arrival', await G.noneFinished([a1, a2]), JSON.stringify(a2.stream.events));

  await G.connect(base, a3);
  check('the last arrival hears 3 of 3', a3.first && a3.first.data.arrived === 3, JSON.stringify(a3.first));
  check('the last arrival moves all three on at once (finish)', await G.allFinished(group1),
    JSON.stringify(group1.map((p) => p.stream.events)));
  check('the three are now on page play', eq(await Promise.all(group1.map((p) => pageOf(base, p))),
    ['play', 'play', 'play']));
  await sleep(WAIT_MAX_MS + 200);
  check('the stopped timer never fires for group 1 (no timed_out)',
    group1.every((p) => !p.stream.messages().some((e) => e.data.timed_out)),
    JSON.stringify(a1.stream.events));

  // ---- group 1 on page play ------------------------------------------------
  G.closeAll(group1);
  for (const p of group1) await G.connect(base, p);
  const playing = { page: 'play', here: [true, true, true], moved_on: 'all', done: 0, my_done: false };
  check("on load on page play: everybody made it, nobody is done yet",
    group1.every((p) => p.first && eq(p.first.data, playing)), JSON.stringify(group1.map((p) => p.first)));
  r = await a2.send('done');
  check('player 2 is done (200)', r.status === 200, `${r.status} ${r.text}`);
  const d1 = await a3.stream.waitFor((d) => d.done === 1);
  check('the group hears it', d1 && d1.data.done_by === 2, JSON.stringify(d1));
  r = await a2.send('done');
  check('Done twice is 422 "you are already done"', isError(r, 422, /already done/), `${r.status} ${r.text}`);
  r = await a1.send('done');
  check('player 1 is done (200)', r.status === 200, `${r.status} ${r.text}`);
  check('two of three done does not finish', await G.noneFinished(group1), JSON.stringify(a1.stream.events));
  r = await a3.send('done');
  check('player 3 is done (200)', r.status === 200, `${r.status} ${r.text}`);
  check('the last Done finishes the game for all three', await G.allFinished(group1),
    JSON.stringify(group1.map((p) => p.stream.events)));
  check('the three are now on the finished page',
    eq(await Promise.all(group1.map((p) => pageOf(base, p))), ['finished', 'finished', 'finished']));

  // ---- group 2: a latecomer ------------------------------------------------
  await G.connect(base, b1);
  const t0 = Date.now();
  await G.connect(base, b2);
  check('group 2 counts its own arrivals (2 of 3)', b2.first && b2.first.data.arrived === 2 &&
    eq(b2.first.data.here, [true, true, false]), JSON.stringify(b2.first));
  const out = await b1.stream.waitFor((d) => d.timed_out === true, WAIT_MAX_MS + G.WAIT_MS);
  const tOut = Date.now();
  check('after the longest wait the two hear timed_out, 2 of 3 here',
    out && out.data.arrived === 2 && eq(out.data.here, [true, true, false]), JSON.stringify(b1.stream.events));
  check(`the timeout comes about ${WAIT_MAX_MS} ms after the first arrival`,
    tOut - t0 >= WAIT_MAX_MS - 150, `${tOut - t0} ms`);
  check('the timeout moves the two on (finish)', await G.allFinished([b1, b2]), JSON.stringify(b2.stream.events));
  check('the latecomer is on page play without having waited', (await pageOf(base, b3)) === 'play');
  await G.connect(base, b3);
  check("the latecomer's on load: moved on by timeout, she was not there",
    b3.first && eq(b3.first.data, { page: 'play', here: [true, true, false], moved_on: 'timeout', done: 0,
      my_done: false }), JSON.stringify(b3.first));
  r = await b3.send('done');
  check('the latecomer can take part on page play (200)', r.status === 200, `${r.status} ${r.text}`);

  const st = await G.sessionState(base, game.session.code);
  const g2 = st && st.groups.find((g) => g.id === 2);
  check('the admin API shows why group 2 moved on and the pages',
    g2 && g2.fields.moved_on === 'timeout' && g2.fields.arrived === 2 && g2.players.every((p) => p.page === 'play'),
    JSON.stringify(g2));
  G.closeAll(players);
}

G.run(main);
