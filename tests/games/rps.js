// rps.js -- end-to-end test of games/rps.live (rock, paper, scissors, best
// of three): a choice is acknowledged to its maker and only announced (not
// shown) to the opponent, also in a fresh stream's on load; both hands are
// revealed together; refusals (an unknown hand, choosing twice in a round,
// playing after the match); a draw replays the round; two wins take the
// match and finish the page for both.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/rps.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError } = G;

/* Plays one round: a chooses first, then b; returns the reveal event that
 * `a` hears (or undefined). */
async function round(a, ha, b, hb, n) {
  const ra = await a.send('choose', { hand: ha });
  const rb = await b.send('choose', { hand: hb });
  if (ra.status !== 200 || rb.status !== 200) return undefined;
  return a.stream.waitFor((d) => d.played === n);
}

async function main() {
  const game = await G.startGame('rps', 2);
  if (!game) return;
  const { base, players } = game;
  const [p1, p2] = players;
  const start = { round: 1, wins: [0, 0], winner: 0, wins_needed: 2, my_hand: '', opponent_chose: false };
  check('on load sends both players the empty score', eq(p1.first.data, start) && eq(p2.first.data, start),
    JSON.stringify([p1.first, p2.first]));
  let r = await G.http(base, 'GET', `/p/${p2.code}`);
  check('the page is games/rps.html with its placeholders filled',
    r.status === 200 && /id="hands"/.test(r.text) && /Rock, paper, scissors/.test(r.text) &&
    !/\{\{/.test(r.text) && /Number\('2'\)/.test(r.text), `${r.status} ${r.text.slice(0, 200)}`);

  r = await p1.send('choose', { hand: 'lizard' });
  check('an unknown hand is 422 naming the field hand', isError(r, 422, /hand/), `${r.status} ${r.text}`);
  r = await p1.send('choose', {});
  check('a choice without a hand is 422 naming the field hand', isError(r, 422, /hand/), `${r.status} ${r.text}`);

  // ---- round 1: the secret choice, then the reveal -------------------------
  r = await p1.send('choose', { hand: 'rock' });
  check('player 1 chooses rock (200)', r.status === 200 && r.json && r.json.ok === true, `${r.status} ${r.text}`);
  const ack = await p1.stream.waitFor((d) => d.chosen !== undefined);
  const told = await p2.stream.waitFor((d) => d.opponent_chose === true);
  check('the chooser hears {round: 1, chosen: "rock"}', ack && eq(ack.data, { round: 1, chosen: 'rock' }),
    JSON.stringify(ack));
  check('the opponent hears only that a choice was made, not which',
    told && eq(told.data, { round: 1, opponent_chose: true }) && !/rock/.test(JSON.stringify(p2.stream.events)),
    JSON.stringify(p2.stream.events));
  r = await p1.send('choose', { hand: 'paper' });
  check('changing the hand is 422 "you already chose this round"', isError(r, 422, /already chose this round/),
    `${r.status} ${r.text}`);

  p2.stream.close();
  await G.connect(base, p2);
  check("a fresh stream of the opponent says a choice was made, and still hides it",
    p2.first && eq(p2.first.data, { ...start, opponent_chose: true }), JSON.stringify(p2.first));
  p1.stream.close();
  await G.connect(base, p1);
  check('a fresh stream of the chooser gives back its own hand',
    p1.first && p1.first.data.my_hand === 'rock' && p1.first.data.opponent_chose === false, JSON.stringify(p1.first));

  r = await p2.send('choose', { hand: 'scissors' });
  check('player 2 chooses scissors (200)', r.status === 200, `${r.status} ${r.text}`);
  const rev1 = await p1.stream.waitFor((d) => d.played === 1);
  const rev2 = await p2.stream.waitFor((d) => d.played === 1);
  const want1 = { round: 2, wins: [1, 0], winner: 0, wins_needed: 2, played: 1, hands: ['rock', 'scissors'],
    round_winner: 1 };
  check('both hands are revealed to both at once: rock beats scissors, 1 : 0, round 2',
    rev1 && rev2 && eq(rev1.data, want1) && eq(rev2.data, want1), JSON.stringify([rev1, rev2]));

  // ---- round 2: a draw; round 3: player 2 wins -----------------------------
  const rev3 = await round(p2, 'paper', p1, 'paper', 2);
  check('equal hands are a draw: no point, the round is replayed as round 3',
    rev3 && rev3.data.round_winner === 0 && eq(rev3.data.wins, [1, 0]) && rev3.data.round === 3 &&
    eq(rev3.data.hands, ['paper', 'paper']), JSON.stringify(rev3));
  const rev4 = await round(p1, 'scissors', p2, 'rock', 3);
  check('rock beats scissors for player 2: 1 : 1', rev4 && rev4.data.round_winner === 2 &&
    eq(rev4.data.wins, [1, 1]) && eq(rev4.data.hands, ['scissors', 'rock']), JSON.stringify(rev4));
  check('one win each does not end the match', await G.noneFinished(players), JSON.stringify(p1.stream.events.slice(-1)));

  // ---- round 4 decides -------------------------------------------------------
  const rev5 = await round(p2, 'paper', p1, 'scissors', 4);
  check('scissors beat paper: player 1 wins the match 2 : 1',
    rev5 && rev5.data.round_winner === 1 && eq(rev5.data.wins, [2, 1]) && rev5.data.winner === 1 &&
    eq(rev5.data.hands, ['scissors', 'paper']), JSON.stringify(rev5));
  check('the match finishes the page for both', await G.allFinished(players),
    JSON.stringify([p1.stream.events.slice(-1), p2.stream.events.slice(-1)]));
  r = await p2.send('choose', { hand: 'rock' });
  check('a choice after the match is 422 "the match is over"', isError(r, 422, /the match is over/),
    `${r.status} ${r.text}`);

  const st = await G.sessionState(base, game.session.code);
  const g = st && st.groups[0];
  check('the admin API shows the final score and no pending hands',
    g && eq(g.fields.wins, [2, 1]) && g.fields.winner === 1 && g.players.every((p) => p.fields.hand === ''),
    JSON.stringify(st));
  G.closeAll(players);
}

G.run(main);
