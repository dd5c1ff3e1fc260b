// auction.js -- end-to-end test of games/auction.live (a live English
// auction of three bidders), with GOING_GONE shortened to 1.2 s: two groups
// in one session; bids broadcast to the bidder's group only; each refusal
// with its reason (below the reserve, not higher than the highest, already
// the highest bidder, over the buy-now price, after the end); the timer that
// each bid re-arms selling the item with `finish`; buy-now finishing at once.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/auction.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError, sleep } = G;

const GOING_GONE_MS = 1200;

async function main() {
  const game = await G.startGame('auction', 6, { patch: { GOING_GONE: `${GOING_GONE_MS}ms` } });
  if (!game) return;
  const { base, players } = game;
  const [a1, a2, a3, b1, b2, b3] = players;
  const group1 = [a1, a2, a3];
  const group2 = [b1, b2, b3];
  check('six participants form two groups of three',
    group1.every((p) => p.group === 1) && group2.every((p) => p.group === 2) &&
    eq(players.map((p) => p.id), [1, 2, 3, 1, 2, 3]), JSON.stringify(game.session));
  const start = { highest: 0, highest_bidder: 0, bids: 0, sold: false, reserve: 10, buy_now: 100, my_bids: 0 };
  check('on load sends every bidder the empty auction', players.every((p) => eq(p.first.data, start)),
    JSON.stringify(players.map((p) => p.first)));

  let r = await G.http(base, 'GET', `/p/${a2.code}`);
  check('the bidding page is games/auction.html with its placeholders filled',
    r.status === 200 && /id="history"/.test(r.text) && /Live auction/.test(r.text) && !/\{\{/.test(r.text) &&
    /Number\('2'\)/.test(r.text), `${r.status} ${r.text.slice(0, 200)}`);

  // ---- refusals before the first bid --------------------------------------
  r = await a1.send('bid', { amount: 5 });
  check('a first bid under the reserve is 422 "the lowest acceptable bid is 10"',
    isError(r, 422, /lowest acceptable bid is 10$/), `${r.status} ${r.text}`);
  r = await a1.send('bid', { amount: 101 });
  check('a bid over 100 is 422 naming the field amount', isError(r, 422, /amount/), `${r.status} ${r.text}`);
  r = await a1.send('bid', { amount: 12.5 });
  check('a fractional bid is 422 naming the field amount', isError(r, 422, /amount/), `${r.status} ${r.text}`);

  // ---- bids and their broadcast -------------------------------------------
  r = await a1.send('bid', { amount: 10 });
  const t0 = Date.now();
  check('bidder 1 bids 10 (200)', r.status === 200 && r.json && r.json.ok === true, `${r.status} ${r.text}`);
  const seen = [];
  for (const p of group1) seen.push(await p.stream.waitFor((d) => d.bids === 1));
  check('the bid reaches the three bidders of group 1: highest 10 by bidder 1, a closing time',
    seen.every((e) => e && e.data.highest === 10 && e.data.highest_bidder === 1 && e.data.bidder === 1 &&
      e.data.amount === 10 && typeof e.data.closes_at === 'number' &&
      Math.abs(e.data.closes_at - (t0 + GOING_GONE_MS)) < 5000), JSON.stringify(seen));

  r = await a1.send('bid', { amount: 20 });
  check('the highest bidder outbidding herself is 422 "you already hold the highest bid"',
    isError(r, 422, /you already hold the highest bid/), `${r.status} ${r.text}`);
  r = await a2.send('bid', { amount: 10 });
  check('an equal bid is 422 "a bid must be higher than the highest bid (10)"',
    isError(r, 422, /higher than the highest bid \(10\)/), `${r.status} ${r.text}`);

  await sleep(GOING_GONE_MS / 2);
  r = await a2.send('bid', { amount: 15 });
  const t1 = Date.now();
  check('bidder 2 outbids with 15 before the timer runs out (200)', r.status === 200, `${r.status} ${r.text}`);
  r = await a3.send('bid', { amount: 12 });
  check('a lower bid is 422 naming the highest bid (15)',
    isError(r, 422, /higher than the highest bid \(15\)/), `${r.status} ${r.text}`);

  const early = await a1.stream.waitFor(() => true, GOING_GONE_MS - (t1 - t0) - 100, 'finish');
  check("the timer was re-armed by the second bid: no sale at the first bid's deadline", !early,
    JSON.stringify(a1.stream.events));

  // ---- the timer sells the item -------------------------------------------
  const soldEv = [];
  for (const p of group1) soldEv.push(await p.stream.waitFor((d) => d.sold === true));
  const tSold = Date.now();
  check('when nobody outbids, the item is sold to bidder 2 for 15, told to all three',
    soldEv.every((e) => e && e.data.highest === 15 && e.data.highest_bidder === 2 && e.data.bids === 2),
    JSON.stringify(soldEv));
  check(`the sale comes about ${GOING_GONE_MS} ms after the last bid`,
    tSold - t1 >= GOING_GONE_MS - 150, `${tSold - t1} ms`);
  check('the sale finishes the auction for group 1', await G.allFinished(group1),
    JSON.stringify(a1.stream.events.slice(-2)));
  r = await a3.send('bid', { amount: 50 });
  check('a bid after the sale is 422 "the auction is over"', isError(r, 422, /the auction is over/),
    `${r.status} ${r.text}`);

  // ---- group 2 heard nothing, and buys now --------------------------------
  check('group 2 heard none of group 1 (only its on load), and has not finished',
    group2.every((p) => p.stream.events.length === 1), JSON.stringify(group2.map((p) => p.stream.events)));
  r = await b3.send('bid', { amount: 40 });
  check('group 2: bidder 3 bids 40 (200)', r.status === 200, `${r.status} ${r.text}`);
  r = await b1.send('bid', { amount: 100 });
  check('group 2: bidder 1 buys now with 100 (200)', r.status === 200, `${r.status} ${r.text}`);
  const bought = await b2.stream.waitFor((d) => d.sold === true);
  check('the buy-now bid sells at once: sold, highest 100, bidder 1',
    bought && bought.data.highest === 100 && bought.data.highest_bidder === 1 && bought.data.bidder === 1,
    JSON.stringify(bought));
  check('buy-now finishes group 2', await G.allFinished(group2), JSON.stringify(b2.stream.events.slice(-2)));
  await sleep(GOING_GONE_MS + 200);
  check('the stopped timer does not fire later (no second sale message)',
    b2.stream.messages().filter((e) => e.data.sold).length === 1, JSON.stringify(b2.stream.events));

  const st = await G.sessionState(base, game.session.code);
  const g1 = st && st.groups.find((g) => g.id === 1);
  const p2 = g1 && g1.players.find((p) => p.id_in_group === 2);
  check('the admin API shows group 1 sold to bidder 2 for 15, who made one bid',
    g1 && g1.fields.sold === true && g1.fields.highest === 15 && g1.fields.highest_bidder === 2 &&
    p2 && p2.fields.bids === 1, JSON.stringify(st));
  G.closeAll(players);
}

G.run(main);
