// bargaining.js -- end-to-end test of games/bargaining.live (two players
// split 100 points): proposals reach both players and replace the
// proposer's earlier one; refusals with their reasons (nothing to accept
// yet, an offer that changed, a keep outside 0..100, anything after the
// deal); a deal pays both as proposed and finishes the page for both.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/bargaining.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError } = G;

async function main() {
  const game = await G.startGame('bargaining', 2);
  if (!game) return;
  const { base, players } = game;
  const [p1, p2] = players;
  const start = { pie: 100, asks: [-1, -1], proposals: 0, deal: false, payoffs: [0, 0] };
  check('on load sends both players the open bargaining', eq(p1.first.data, start) && eq(p2.first.data, start),
    JSON.stringify([p1.first, p2.first]));
  let r = await G.http(base, 'GET', `/p/${p1.code}`);
  check('the page is games/bargaining.html with its placeholders filled',
    r.status === 200 && /id="theirs"/.test(r.text) && /Split the pie/.test(r.text) && !/\{\{/.test(r.text) &&
    /Number\('1'\)/.test(r.text), `${r.status} ${r.text.slice(0, 200)}`);

  r = await p1.send('accept', { keep: 50 });
  check('accepting before any proposal is 422 "there is no proposal to accept yet"',
    isError(r, 422, /no proposal to accept yet/), `${r.status} ${r.text}`);
  r = await p1.send('propose', { keep: 101 });
  check('keeping 101 is 422 naming the field keep', isError(r, 422, /keep/), `${r.status} ${r.text}`);
  r = await p1.send('propose', { keep: -5 });
  check('keeping -5 is 422 naming the field keep', isError(r, 422, /keep/), `${r.status} ${r.text}`);

  r = await p1.send('propose', { keep: 70 });
  check('player 1 proposes to keep 70 (200)', r.status === 200 && r.json && r.json.ok === true, `${r.status} ${r.text}`);
  const want = { ...start, asks: [70, -1], proposals: 1, from: 1, keep: 70 };
  const h1 = await p1.stream.waitFor((d) => d.proposals === 1);
  const h2 = await p2.stream.waitFor((d) => d.proposals === 1);
  check('both players hear the proposal', h1 && h2 && eq(h1.data, want) && eq(h2.data, want),
    JSON.stringify([h1, h2]));

  r = await p1.send('accept', { keep: 70 });
  check("a player accepting when only her own proposal stands is 422 (nothing to accept)",
    isError(r, 422, /no proposal to accept yet/), `${r.status} ${r.text}`);

  r = await p2.send('propose', { keep: 60 });
  check('player 2 counters with 60 (200)', r.status === 200, `${r.status} ${r.text}`);
  r = await p1.send('propose', { keep: 55 });
  check('player 1 lowers her ask to 55 (200)', r.status === 200, `${r.status} ${r.text}`);
  const h3 = await p2.stream.waitFor((d) => d.proposals === 3);
  check("a new proposal replaces the proposer's earlier one: asks [55, 60]",
    h3 && eq(h3.data.asks, [55, 60]) && h3.data.from === 1, JSON.stringify(h3));

  r = await p2.send('accept', { keep: 70 });
  check('accepting the old offer is 422 "the proposal has changed: player 1 now asks for 55"',
    isError(r, 422, /proposal has changed: player 1 now asks for 55$/), `${r.status} ${r.text}`);
  check('nothing finished yet', await G.noneFinished(players), JSON.stringify(p1.stream.events.slice(-1)));

  r = await p2.send('accept', { keep: 55 });
  check("player 2 accepts player 1's standing offer (200)", r.status === 200, `${r.status} ${r.text}`);
  const d1 = await p1.stream.waitFor((d) => d.deal === true);
  const d2 = await p2.stream.waitFor((d) => d.deal === true);
  check('both hear the deal: player 1 gets 55, player 2 gets 45',
    d1 && d2 && eq(d1.data.payoffs, [55, 45]) && d1.data.accepted_by === 2 && eq(d1.data, d2.data),
    JSON.stringify([d1, d2]));
  check('the deal finishes the page for both', await G.allFinished(players),
    JSON.stringify([p1.stream.events.slice(-1), p2.stream.events.slice(-1)]));
  r = await p1.send('propose', { keep: 10 });
  check('a proposal after the deal is 422 "the bargaining is over"', isError(r, 422, /bargaining is over/),
    `${r.status} ${r.text}`);
  r = await p1.send('accept', { keep: 60 });
  check('accepting after the deal is 422 "the bargaining is over"', isError(r, 422, /bargaining is over/),
    `${r.status} ${r.text}`);
  check('event ids are consecutive and refusals sent nothing',
    G.consecutive(p1.stream.ids(), 1) && p1.stream.events.length === 6, JSON.stringify(p1.stream.ids()));

  const st = await G.sessionState(base, game.session.code);
  const g = st && st.groups[0];
  const pay = g && g.players.slice().sort((a, b) => a.id_in_group - b.id_in_group).map((p) => p.fields.payoff);
  check('the admin API records the deal and the payoffs', g && g.fields.deal === true && eq(pay, [55, 45]),
    JSON.stringify(st));
  G.closeAll(players);
}

G.run(main);
