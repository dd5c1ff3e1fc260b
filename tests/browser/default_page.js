#!/usr/bin/env node
// Browser test of the default live page (web/live.html + live-page.js), the
// page every game has before anyone writes HTML:
//   - tic-tac-toe without its own page (a copy of games/tictactoe.live with
//     the `page` lines removed): two pages play to the end through the
//     generated forms, one move typed with the keyboard only; a move out of
//     turn shows the server's reason beside the form; a reload mid-game
//     shows the board again (on load); both pages end on the finished page;
//   - the counter game: inputs typed and constrained like the fields
//     (number min/max/step, maxlength), the Next button (POST /p/P/next)
//     leads to the finished page;
//   - a phone viewport: no sideways scrolling, screenshot kept;
//   - labels on every control, text contrast >= 4.5:1.
'use strict';
const fs = require('fs');
const path = require('path');
const { check, expect, freePort, tmpdir, build, start, run, shot, GAMES, WAIT_MS } = require('./lib');
const { audit } = require('./a11y');

/* The last board the page's log shows (parsed from the newest entry). */
function lastBoard(page) {
  return page.evaluate(() => {
    const pres = document.querySelectorAll('#log li pre');
    for (let i = pres.length - 1; i >= 0; i--) {
      try {
        const m = JSON.parse(pres[i].textContent);
        if (m && Array.isArray(m.board)) return m.board;
      } catch (e) { /* not ours */ }
    }
    return null;
  });
}

/* Waits until page's log shows a board with `want` at square i. */
function waitSquare(page, i, want) {
  return page.waitForFunction(([i, want]) => {
    const pres = document.querySelectorAll('#log li pre');
    for (let k = pres.length - 1; k >= 0; k--) {
      try {
        const m = JSON.parse(pres[k].textContent);
        if (m && Array.isArray(m.board)) return m.board[i] === want;
      } catch (e) { /* not ours */ }
    }
    return false;
  }, [i, want], { timeout: WAIT_MS });
}

/* Sends a move through the generated form by clicking. */
async function clickMove(page, square) {
  const form = page.locator('form.msg').filter({ hasText: 'move' });
  await form.locator('input[type=number]').fill(String(square));
  await form.locator('button[type=submit]').click();
}

async function tictactoe(browser) {
  const dir = tmpdir('default-ttt');
  const src = fs.readFileSync(path.join(GAMES, 'tictactoe.live'), 'utf8')
    .replace(/^page .*$/mg, '');
  const file = path.join(dir, 'tictactoe.live');
  fs.writeFileSync(file, src);
  const exe = build(dir, file);
  if (!exe) return;
  const srv = await start(exe, dir, await freePort());
  check('the server prints two player links', srv.links.length === 2, srv.out);
  const ctx = await browser.newContext();
  const [x, o] = [await ctx.newPage(), await ctx.newPage()];
  await x.goto(srv.links[0]);
  await o.goto(srv.links[1]);
  await expect('both default pages show the board sent by on load',
    Promise.all([waitSquare(x, 4, 0), waitSquare(o, 4, 0)]));

  const input = x.locator('form.msg input[type=number]');
  const attrs = await input.evaluate((e) => ({ min: e.min, max: e.max, step: e.step, req: e.required,
    label: e.labels && e.labels[0] ? e.labels[0].textContent : '' }));
  check('the square input is a number from 0 to 8, step 1, required, labelled',
    attrs.min === '0' && attrs.max === '8' && attrs.step === '1' && attrs.req && /square/.test(attrs.label),
    JSON.stringify(attrs));

  // O moves out of turn: the reason shows beside O's form
  await clickMove(o, 4);
  await expect('a refused move shows the reason beside its form',
    o.waitForFunction(() => /not your turn/.test(document.querySelector('form.msg .result').textContent),
      null, { timeout: WAIT_MS }));
  await shot(o, 'default-page-refused');

  // X: 4 (keyboard only), O: 0, reload X, X: 2, O: 1, X: 6 -> X wins
  await x.focus('form.msg input[type=number]');
  await x.keyboard.type('4');
  await x.keyboard.press('Enter');
  await expect('a move typed and sent with the keyboard only reaches the other page', waitSquare(o, 4, 1));
  await clickMove(o, 0);
  await waitSquare(x, 0, 2);
  await x.reload();
  await expect('after a reload mid-game the page shows the board again', waitSquare(x, 0, 2));
  const board = await lastBoard(x);
  check('the reloaded board holds both moves', board && board[4] === 1 && board[0] === 2, JSON.stringify(board));
  await clickMove(x, 2);
  await waitSquare(o, 2, 1);
  await clickMove(o, 1);
  await waitSquare(x, 1, 2);
  await clickMove(x, 6);
  const finished = (p) => p.waitForFunction(() => !document.querySelector('#forms') &&
    /done|thank/i.test(document.body.textContent), null, { timeout: WAIT_MS });
  await expect('both pages move on to the finished page when X wins', Promise.all([finished(x), finished(o)]));
  await shot(x, 'default-page-finished');
  await ctx.close();
}

async function counter(browser) {
  const dir = tmpdir('default-counter');
  const exe = build(dir, path.join(GAMES, 'counter.live'));
  if (!exe) return;
  const srv = await start(exe, dir, await freePort());
  // a phone: 390 x 844 CSS pixels, touch
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2,
    isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  await p.goto(srv.links[0]);
  await expect('the counter page connects', p.waitForFunction(
    () => document.querySelectorAll('#log li').length > 0, null, { timeout: WAIT_MS }));
  const f = await p.evaluate(() => {
    const amount = document.querySelector('form.msg input[type=number]');
    const text = document.querySelector('form.msg input[type=text]');
    return { min: amount && amount.min, max: amount && amount.max, step: amount && amount.step,
      maxLength: text && text.maxLength,
      overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth };
  });
  check('amount: a whole number from 1 to 1000', f.min === '1' && f.max === '1000' && f.step === '1', JSON.stringify(f));
  check('text: at most 50 characters', f.maxLength === 50, JSON.stringify(f));
  check('on a phone the page needs no sideways scrolling', f.overflow <= 0, JSON.stringify(f));
  const form = p.locator('form.msg').filter({ hasText: 'add' });
  await form.locator('input[type=number]').fill('7');
  await form.locator('button[type=submit]').tap();
  await expect('a send from the phone is acknowledged', p.waitForFunction(
    () => /sent/.test(document.querySelector('form.msg .result').textContent), null, { timeout: WAIT_MS }));
  await expect('and its effect comes back in the log', p.waitForFunction(
    () => /"total": 7/.test(document.querySelector('#log').textContent), null, { timeout: WAIT_MS }));
  await shot(p, 'default-page-phone');
  await audit(p, 'default page', check);
  await p.locator('form.next button').tap();
  await expect('the Next button leads to the finished page', p.waitForFunction(
    () => /done|thank/i.test(document.body.textContent) && !document.querySelector('#forms'),
    null, { timeout: WAIT_MS }));
  await audit(p, 'finished page', check);
  await phone.close();
}

run(async (browser) => {
  await tictactoe(browser);
  await counter(browser);
});
