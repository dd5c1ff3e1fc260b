// pages.js -- the games' own pages in a real browser (headless Chromium
// over the DevTools protocol, tests/e2e/cdp.js): for each game, one tab per
// player opens its page, the page renders what `on load` sent, one
// interaction by clicking and typing reaches the other tabs through the
// server, and no page throws or breaks its CSP.  Skipped (77) without
// Chromium (set CHROMIUM to choose one).  SCREENSHOTS=DIR keeps a PNG of a
// tab of each game.  The rules themselves are tested over HTTP + SSE by
// tests/games/NAME.js; this checks the templates games/*.html.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/pages.js
'use strict';
const path = require('path');
const G = require('./gamelib.js');
const { Browser, findChromium } = require('../e2e/cdp.js');
const { check } = G;

const SHOTS = process.env.SCREENSHOTS || null;
const exe = findChromium();
if (!exe) {
  console.log('# SKIP: no chromium found (set CHROMIUM)');
  process.exit(77);
}

/* Exceptions, CSP violations and console errors the pages reported
 * (Chromium logs a refused liveSend as a failed request: log.error). */
const problems = (b) => b.logs.filter((l) => /^exception|Content Security Policy|^console\.error/.test(l));
const text = (id) => `((document.getElementById('${id}') || {}).textContent || '')`;
/* What a tab shows, for the detail of a failed check. */
const shown = (b, t) => b.eval(t, `location.pathname + ' | ' + (document.body ? document.body.innerText : '').slice(0, 300)`)
  .catch((e) => String(e));
const submit = (form, field, value) => `(function () {
  document.getElementById('${field}').value = ${JSON.stringify(String(value))};
  document.getElementById('${form}').requestSubmit(); return true; })()`;
const click = (sel, i = 0) => `(document.querySelectorAll(${JSON.stringify(sel)})[${i}].click(), true)`;

/* Each game: group size, optional const patch, what the first render
 * looks like (an expression true in every tab once on load arrived), and
 * one interaction checked across tabs. */
const GAMES = [
  { name: 'nim', n: 2, ready: `${text('turn')}.length > 0 && !${text('turn')}.startsWith('Waiting for the game')`,
    async act(b, t) {
      await b.eval(t[0], click('#moves button', 2));
      return b.until(t[1], `${text('total')} === '3' && ${text('turn')} === 'Your turn.'`);
    } },
  { name: 'auction', n: 3, ready: `${text('who')} === 'No bids yet.'`,
    async act(b, t) {
      await b.eval(t[0], submit('form', 'amount', 10));
      const seen = await b.until(t[2], `${text('price')} === '10' && /Bidder 1/.test(${text('who')})`);
      await b.eval(t[0], submit('form', 'amount', 11));
      const refused = await b.until(t[0], `/already hold the highest bid/.test(${text('refused')})`);
      return seen && refused;
    } },
  { name: 'tenmessages', n: 3, ready: `/10 messages left/.test(${text('left')})`,
    async act(b, t) {
      await b.eval(t[1], submit('form', 'text', 'hello <b>there</b>'));
      return b.until(t[0], `/9 messages left/.test(${text('left')}) &&
        document.querySelector('#msgs li').textContent === 'Player 2hello <b>there</b>'`);
    } },
  { name: 'bargaining', n: 2, ready: `${text('theirs')} === 'No proposal yet.'`,
    async act(b, t) {
      await b.eval(t[0], submit('form', 'keep', 60));
      const seen = await b.until(t[1], `/They keep 60, you get 40/.test(${text('theirs')}) &&
        !document.getElementById('accept').disabled`);
      await b.eval(t[1], click('#accept'));
      const done = await b.until(t[0], `/finished/.test(document.title)`);
      return seen && done;
    } },
  { name: 'rps', n: 2, ready: `${text('info')} === 'Choose your hand.'`,
    async act(b, t) {
      await b.eval(t[0], click('#hands button', 0));
      const told = await b.until(t[1], `/opponent has chosen/.test(${text('info')})`);
      await b.eval(t[1], click('#hands button', 2));
      const revealed = await b.until(t[0], `/you rock, opponent scissors/.test(${text('reveal')}) &&
        ${text('score')} === '1 : 0'`);
      return told && revealed;
    } },
  { name: 'waitpage', n: 3, sequential: true,
    ready: `!document.getElementById('play').hidden && /0 of 3/.test(${text('progress')})`,
    async act(b, t) {
      await b.eval(t[0], click('#done'));
      return b.until(t[2], `/1 of 3/.test(${text('progress')})`);
    } },
  { name: 'realeffort', n: 2, ready: `/^[01]{24}$/.test(${text('digits')})`,
    async act(b, t) {
      const zeros = await b.eval(t[0], `${text('digits')}.split('0').length - 1`);
      await b.eval(t[0], submit('form', 'zeros', zeros));
      return b.until(t[0], `${text('score')} === '1' && /Right/.test(${text('feedback')})`);
    } },
  { name: 'chat', n: 3, ready: `!!document.querySelector('#lines .empty')`,
    async act(b, t) {
      await b.eval(t[0], submit('form', 'text', 'hello'));
      const seen = await b.until(t[2], `/hello/.test((document.querySelector('#lines li[data-id="1"]') || {}).textContent)`);
      await b.eval(t[0], click('#lines li[data-id="1"] button'));
      const gone = await b.until(t[2], `!document.querySelector('#lines li[data-id]')`);
      return seen && gone;
    } },
  { name: 'doubleauction', n: 4, ready: `${text('role')} !== 'trader' && ${text('items')} !== '–'`,
    async act(b, t) {
      await b.eval(t[2], submit('form', 'price', 50));
      const book = await b.until(t[0], `document.querySelectorAll('#asks tr').length === 1`);
      await b.eval(t[0], submit('form', 'price', 55));
      const traded = await b.until(t[0], `${text('items')} === '1' && ${text('cash')} === '150' &&
        document.querySelectorAll('#trades tr').length === 1`);
      return book && traded;
    } },
];

async function one(b, spec) {
  const game = await G.startGame(spec.name, spec.n, { connect: false, patch: spec.patch });
  if (!game) return;
  const before = problems(b).length;
  const tabs = [];
  for (const p of game.players) {
    tabs.push(await b.page(game.base + `/p/${p.code}`));
    if (spec.sequential) await G.sleep(100);
  }
  let ok = true;
  for (const t of tabs) if (!await b.until(t, spec.ready, 6000)) ok = false;
  check(`${spec.name}: every tab renders what on load sent`, ok,
    JSON.stringify(await Promise.all(tabs.map((t) => shown(b, t)))));
  check(`${spec.name}: an interaction in one tab reaches the others`, !!(await spec.act(b, tabs)),
    JSON.stringify(await Promise.all(tabs.map((t) => shown(b, t)))));
  if (SHOTS) await b.screenshot(tabs[0], path.join(SHOTS, `${spec.name}.png`));
  const news = problems(b).slice(before);
  check(`${spec.name}: no exception or CSP violation in any tab`, news.length === 0, JSON.stringify(news));
  for (const t of tabs) await b.send('Page.close', {}, t).catch(() => {});
  await game.srv.stop('SIGTERM');
}

async function main() {
  const b = new Browser(exe);
  b.start();
  try {
    const only = process.env.GAME;
    for (const spec of GAMES) if (!only || only === spec.name) await one(b, spec);
  } finally {
    await b.stop();
  }
}

G.run(main);
