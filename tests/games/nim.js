// nim.js -- end-to-end test of games/nim.live ("race to 15"): two players
// over HTTP and SSE; the state on load, moves that reach both players, each
// refusal with its reason (out of turn, an amount outside 1..3, passing
// 15), the win on exactly 15 with `finish` for both, the refusal after the
// end, consecutive event ids and the finished page.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/nim.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError } = G;

async function main() {
  const game = await G.startGame('nim', 2);
  if (!game) return;
  const { base, players: [p1, p2] } = game;
  const start = { total: 0, target: 15, max_step: 3, whose_turn: 1, winner: 0, moves: 0 };
  check('on load sends the starting state to both players',
    eq(p1.first.data, start) && eq(p2.first.data, start), JSON.stringify([p1.first, p2.first]));

  let r = await G.http(base, 'GET', `/p/${p1.code}`);
  check('the play page is games/nim.html with its placeholders filled',
    r.status === 200 && /id="track"/.test(r.text) && /Race to 15/.test(r.text) && !/\{\{/.test(r.text) &&
    /Number\('1'\)/.test(r.text), `${r.status} ${r.text.slice(0, 200)}`);

  r = await p2.send('add', { amount: 1 });
  check('player 2 moving first is 422 "not your turn"', isError(r, 422, /not your turn/), `${r.status} ${r.text}`);
  r = await p1.send('add', { amount: 4 });
  check('adding 4 is 422 naming the field amount', isError(r, 422, /amount/), `${r.status} ${r.text}`);
  r = await p1.send('add', { amount: 0 });
  check('adding 0 is 422 naming the field amount', isError(r, 422, /amount/), `${r.status} ${r.text}`);

  r = await p1.send('add', { amount: 3 });
  check('player 1 adds 3 (200 {"ok":true})', r.status === 200 && r.json && r.json.ok === true, `${r.status} ${r.text}`);
  const want = { total: 3, target: 15, max_step: 3, whose_turn: 2, winner: 0, moves: 1, by: 1, amount: 3 };
  const m1 = await p1.stream.waitFor((d) => d.moves === 1);
  const m2 = await p2.stream.waitFor((d) => d.moves === 1);
  check('both players hear the move: total 3, player 2 to move',
    m1 && m2 && eq(m1.data, want) && eq(m2.data, want), JSON.stringify([m1, m2]));
  r = await p1.send('add', { amount: 1 });
  check('moving twice in a row is 422 "not your turn"', isError(r, 422, /not your turn/), `${r.status} ${r.text}`);

  // 3 -> 6 -> 9 -> 12 -> 14
  const plan = [[p2, 3], [p1, 3], [p2, 3], [p1, 2]];
  let ok = true;
  for (const [p, amount] of plan) {
    r = await p.send('add', { amount });
    if (r.status !== 200) { ok = false; break; }
  }
  check('four more alternating moves bring the total to 14', ok, `${r.status} ${r.text}`);
  const at14 = await p2.stream.waitFor((d) => d.total === 14);
  check('at 14 it is player 2 to move', at14 && at14.data.whose_turn === 2 && at14.data.winner === 0,
    JSON.stringify(at14));

  r = await p2.send('add', { amount: 2 });
  check('passing 15 is 422 with the reason "may not pass 15: add at most 1"',
    isError(r, 422, /may not pass 15: add at most 1$/), `${r.status} ${r.text}`);
  r = await p2.send('add', { amount: 1 });
  check('player 2 reaches exactly 15 (200)', r.status === 200, `${r.status} ${r.text}`);
  const won1 = await p1.stream.waitFor((d) => d.winner !== 0);
  const won2 = await p2.stream.waitFor((d) => d.winner !== 0);
  check('both players hear that player 2 won with total 15',
    won1 && won2 && won1.data.winner === 2 && won1.data.total === 15 && eq(won1.data, won2.data),
    JSON.stringify([won1, won2]));
  check('both players get event: finish', await G.allFinished([p1, p2]),
    JSON.stringify([p1.stream.events.slice(-2), p2.stream.events.slice(-2)]));
  r = await p1.send('add', { amount: 1 });
  check('a move after the end is 422 "the game is over"', isError(r, 422, /the game is over/), `${r.status} ${r.text}`);

  check('event ids are 1, 2, 3 ... on both streams (refusals send nothing)',
    G.consecutive(p1.stream.ids(), 1) && G.consecutive(p2.stream.ids(), 1) &&
    p1.stream.events.length === 8, JSON.stringify([p1.stream.ids(), p2.stream.ids()]));
  r = await G.http(base, 'GET', `/p/${p2.code}`);
  check('after finish, GET /p/P is the finished page',
    r.status === 200 && !/id="track"/.test(r.text) && /finished|done/i.test(r.text), r.text.slice(0, 200));
  const st = await G.sessionState(base, game.session.code);
  const g = st && st.groups && st.groups[0];
  check('the admin API shows the final group state',
    g && g.fields.total === 15 && g.fields.winner === 2 && g.fields.moves === 6, JSON.stringify(st));
  G.closeAll([p1, p2]);
}

G.run(main);
