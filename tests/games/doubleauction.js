// doubleauction.js -- end-to-end test of games/doubleauction.live (two
// buyers, two sellers; tables `offer` and `trade`), with MARKET_TIME
// shortened to 4 s, in a session of two markets.  Market 1: roles and
// holdings on load; refusals (wrong role, a price out of range, more than
// one's cash, nothing to sell, nothing to withdraw, after the close); the
// book sorted best first, one standing offer per player; an incoming ask or
// bid trading with the best crossing offer at the standing price, the
// oldest first among equal prices; cash and items moving with each trade,
// told privately; selling out closes the market with `finish`.  Market 2:
// nobody trades and the timer closes it.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/doubleauction.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError, sleep } = G;

const MARKET_MS = 4000;

const book = (list) => list.map((o) => [o.trader, o.price]);
const holdings = (p) => p.stream.messages().filter((e) => e.data.role !== undefined);
const lastHolding = (p) => { const h = holdings(p); return h.length ? h[h.length - 1].data : undefined; };

/* Whether p's latest holdings equal `want`, waiting for them (bounded):
 * the event to each player travels on that player's own connection, so it
 * may arrive after the market news another player already heard. */
async function holdingIs(p, want, ms = 4000) {
  const end = Date.now() + ms;
  while (Date.now() < end && !eq(lastHolding(p), want)) await sleep(20);
  return eq(lastHolding(p), want);
}

/* Sends one message as p and waits until `watcher` heard the market news
 * `news`; resolves with {r, ev}. */
async function post(p, type, price, watcher, news) {
  const r = await p.send(type, price === undefined ? {} : { price });
  const ev = r.status === 200 ? await watcher.stream.waitFor((d) => d.news === news) : undefined;
  return { r, ev };
}

async function main() {
  const game = await G.startGame('doubleauction', 8, { patch: { MARKET_TIME: `${MARKET_MS}ms` }, connect: false });
  if (!game) return;
  const { base, players } = game;
  const m1 = players.slice(0, 4);
  const m2 = players.slice(4);
  const [b1, b2, s1, s2] = m1;
  const t0 = Date.now();
  for (const p of m1) await G.connect(base, p);

  const first = b1.first && b1.first.data;
  check('on load sends the empty market: open, a closing time, no offers, no trades',
    first && first.open === true && eq(first.bids, []) && eq(first.asks, []) && eq(first.trades, []) &&
    Math.abs(first.closes_at - (t0 + MARKET_MS)) < 2000, JSON.stringify(b1.first));
  await b1.stream.waitCount(2);
  await s1.stream.waitCount(2);
  check('and the holdings, privately: a buyer has 200 cash, a seller 2 items',
    await holdingIs(b1, { role: 'buyer', cash: 200, items: 0, profit: 0 }) &&
    await holdingIs(s1, { role: 'seller', cash: 0, items: 2, profit: 0 }),
    JSON.stringify([b1.stream.events, s1.stream.events]));
  let r = await G.http(base, 'GET', `/p/${s2.code}`);
  check('the page is games/doubleauction.html with its placeholders filled',
    r.status === 200 && /id="trades"/.test(r.text) && /Double auction/.test(r.text) && !/\{\{/.test(r.text) &&
    /Number\('4'\)/.test(r.text), `${r.status} ${r.text.slice(0, 200)}`);

  // ---- refusals ------------------------------------------------------------
  r = await s1.send('bid', { price: 10 });
  check('a seller bidding is 422 "only buyers bid"', isError(r, 422, /only buyers bid/), `${r.status} ${r.text}`);
  r = await b1.send('ask', { price: 10 });
  check('a buyer asking is 422 "only sellers ask"', isError(r, 422, /only sellers ask/), `${r.status} ${r.text}`);
  r = await b1.send('bid', { price: 201 });
  check('a price over 200 is 422 naming the field price', isError(r, 422, /price/), `${r.status} ${r.text}`);
  r = await b1.send('bid', { price: 0 });
  check('a price of 0 is 422 naming the field price', isError(r, 422, /price/), `${r.status} ${r.text}`);
  r = await b1.send('cancel');
  check('withdrawing without an offer is 422 "you have no standing offer"', isError(r, 422, /no standing offer/),
    `${r.status} ${r.text}`);

  // ---- the book --------------------------------------------------------------
  let x = await post(b1, 'bid', 50, s1, 'player 1 bids 50');
  check('buyer 1 bids 50: everybody sees it in the book', x.r.status === 200 && x.ev &&
    eq(book(x.ev.data.bids), [[1, 50]]) && eq(x.ev.data.asks, []), JSON.stringify([x.r.text, x.ev]));
  x = await post(b2, 'bid', 60, b1, 'player 2 bids 60');
  check('bids are listed best (highest) first', x.ev && eq(book(x.ev.data.bids), [[2, 60], [1, 50]]),
    JSON.stringify(x.ev));
  x = await post(b1, 'bid', 55, s2, 'player 1 bids 55');
  check("a new bid replaces the bidder's standing one", x.ev && eq(book(x.ev.data.bids), [[2, 60], [1, 55]]),
    JSON.stringify(x.ev));
  x = await post(s1, 'ask', 70, b1, 'player 3 asks 70');
  await post(s2, 'ask', 65, b1, 'player 4 asks 65');
  const asks = await b1.stream.waitFor((d) => d.news === 'player 4 asks 65');
  check('asks are listed best (lowest) first', asks && eq(book(asks.data.asks), [[4, 65], [3, 70]]),
    JSON.stringify(asks));

  // ---- trades ----------------------------------------------------------------
  x = await post(s2, 'ask', 58, b1, 'player 4 sold to player 2 at 60');
  check("an ask of 58 meets the best bid (60): a trade at the bid's price, seller 4's old ask gone",
    x.ev && eq(book(x.ev.data.bids), [[1, 55]]) && eq(book(x.ev.data.asks), [[3, 70]]) &&
    x.ev.data.trades.length === 1 && x.ev.data.trades[0].buyer === 2 && x.ev.data.trades[0].seller === 4 &&
    x.ev.data.trades[0].price === 60 && x.ev.data.trades[0].id === 1, JSON.stringify([x.r.text, x.ev]));
  check('the two traders hear their new holdings: buyer 140 cash, 1 item; seller 60 cash, 1 item',
    await holdingIs(b2, { role: 'buyer', cash: 140, items: 1, profit: 20 }) &&
    await holdingIs(s2, { role: 'seller', cash: 60, items: 1, profit: 40 }),
    JSON.stringify([lastHolding(b2), lastHolding(s2)]));
  x = await post(b1, 'bid', 75, s1, 'player 1 bought from player 3 at 70');
  check("a bid of 75 meets the best ask (70): a trade at the ask's price",
    x.ev && eq(x.ev.data.bids, []) && eq(x.ev.data.asks, []) && x.ev.data.trades.length === 2 &&
    x.ev.data.trades[1].price === 70 && await holdingIs(b1, { role: 'buyer', cash: 130, items: 1, profit: 10 }),
    JSON.stringify([x.ev, lastHolding(b1)]));

  await post(s1, 'ask', 40, b2, 'player 3 asks 40');
  x = await post(s2, 'ask', 40, b2, 'player 4 asks 40');
  check('equal asks stay in the order they came', x.ev && eq(book(x.ev.data.asks), [[3, 40], [4, 40]]),
    JSON.stringify(x.ev));
  x = await post(b2, 'bid', 45, b1, 'player 2 bought from player 3 at 40');
  check('a bid meeting two equal asks trades with the older one (seller 3)',
    x.ev && eq(book(x.ev.data.asks), [[4, 40]]) && x.ev.data.trades.length === 3, JSON.stringify(x.ev));
  r = await s1.send('ask', { price: 30 });
  check('a seller with no items left is 422 "you have no items left to sell"', isError(r, 422, /no items left/),
    `${r.status} ${r.text}`);
  r = await b2.send('bid', { price: 150 });
  check('a bid over one\'s cash is 422 "you cannot afford 150: your cash is 100"',
    isError(r, 422, /cannot afford 150: your cash is 100$/), `${r.status} ${r.text}`);
  x = await post(s2, 'cancel', undefined, b1, 'player 4 withdrew');
  check("withdrawing removes the player's offer from the book", x.ev && eq(x.ev.data.asks, []),
    JSON.stringify(x.ev));
  r = await s2.send('cancel');
  check('withdrawing twice is 422 "you have no standing offer"', isError(r, 422, /no standing offer/),
    `${r.status} ${r.text}`);
  check('the market is still open with one item left', await G.noneFinished(m1), JSON.stringify(b1.stream.events.slice(-1)));

  await post(b1, 'bid', 35, s2, 'player 1 bids 35');
  x = await post(s2, 'ask', 30, b2, 'player 4 sold to player 1 at 35');
  check('the last item sells: the market closes', x.ev && x.ev.data.open === false && x.ev.data.trades.length === 4,
    JSON.stringify(x.ev));
  check('selling out finishes the page for all four', await G.allFinished(m1),
    JSON.stringify(m1.map((p) => p.stream.events.slice(-1))));
  r = await b2.send('bid', { price: 10 });
  check('a bid after the close is 422 "the market is closed"', isError(r, 422, /market is closed/),
    `${r.status} ${r.text}`);
  check('holdings went only to their owner: one on load plus one per own trade',
    eq(m1.map((p) => holdings(p).length), [3, 3, 3, 3]) &&
    holdings(b1).every((e) => e.data.role === 'buyer') && holdings(s1).every((e) => e.data.role === 'seller'),
    JSON.stringify(m1.map((p) => holdings(p).map((e) => e.data))));

  const st = await G.sessionState(base, game.session.code);
  const g1 = st && st.groups.find((g) => g.id === 1);
  const cash = g1 && g1.players.slice().sort((a, b) => a.id_in_group - b.id_in_group).map((p) => p.fields.cash);
  check('the admin API: 4 trades, an empty book, cash 95, 100, 110, 95 (400 in all)',
    g1 && g1.tables && g1.tables.trade.length === 4 && eq(g1.tables.offer, []) && eq(cash, [95, 100, 110, 95]),
    JSON.stringify(g1));
  r = await G.http(base, 'GET', `/api/sessions/${game.session.code}/export/trade.csv`, undefined, G.admin);
  const lines = r.text.trim().split(/\r?\n/);
  check('the trades export as CSV: a header naming buyer, seller, price and 4 rows',
    r.status === 200 && /buyer/.test(lines[0]) && /seller/.test(lines[0]) && /price/.test(lines[0]) &&
    lines.length === 5, `${r.status} ${r.text.slice(0, 300)}`);

  // ---- market 2: the timer closes it ---------------------------------------
  const t2 = Date.now();
  for (const p of m2) await G.connect(base, p);
  check('market 2 opens empty, untouched by market 1', m2[0].first && eq(m2[0].first.data.trades, []) &&
    m2[0].first.data.open === true, JSON.stringify(m2[0].first));
  const closed = await m2[3].stream.waitFor((d) => d.open === false, MARKET_MS + G.WAIT_MS);
  check('MARKET_TIME after it opened, market 2 closes: "the market closed"',
    closed && closed.data.news === 'the market closed' && Date.now() - t2 >= MARKET_MS - 200,
    JSON.stringify([closed, Date.now() - t2]));
  check('and finishes for all four', await G.allFinished(m2), JSON.stringify(m2.map((p) => p.stream.events.slice(-1))));
  G.closeAll(players);
}

G.run(main);
