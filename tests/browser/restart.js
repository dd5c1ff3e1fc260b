#!/usr/bin/env node
// Browser test: tic-tac-toe on its own page (games/tictactoe.html) through
// a reload and a server restart.
//   - one player plays by keyboard only (Tab to a square, Enter);
//   - a reload mid-game restores the board (on load resends the state);
//   - the server is stopped (SIGTERM, exit 0) mid-game and started again on
//     the same address and database: every move answered before the stop is
//     still on the board, both pages reconnect by themselves (no reload) and
//     the game goes on to its end on the finished page;
//   - a monitor page signed in before the restart shows the login form after
//     it, saying that the server restarted (the login lasts until a stop).
'use strict';
const path = require('path');
const { check, expect, freePort, tmpdir, build, start, stop, api, run, shot, GAMES, PW, WAIT_MS } = require('./lib');
const { audit } = require('./a11y');

/* Marks on the page's board: 'X', 'O' or '' per square. */
function marks(page) {
  return page.evaluate(() => [...document.querySelectorAll('#board button')].map((b) => b.textContent));
}

function waitMark(page, i, mark, timeout) {
  return page.waitForFunction(([i, mark]) => {
    const b = document.querySelectorAll('#board button')[i];
    return b && b.textContent === mark;
  }, [i, mark], { timeout: timeout || WAIT_MS });
}

function waitStatus(page, re, timeout) {
  return page.waitForFunction((src) => new RegExp(src).test(document.getElementById('status').textContent),
    re.source, { timeout: timeout || WAIT_MS });
}

/* Moves by keyboard: Tab until square i has the focus, then Enter. */
async function keyMove(page, i) {
  for (let k = 0; k < 30; k++) {
    const at = await page.evaluate(() => [...document.querySelectorAll('#board button')]
      .indexOf(document.activeElement));
    if (at === i) break;
    await page.keyboard.press('Tab');
  }
  const at = await page.evaluate(() => [...document.querySelectorAll('#board button')].indexOf(document.activeElement));
  check(`square ${i} can be reached with the Tab key`, at === i, `focus on ${at}`);
  await page.keyboard.press('Enter');
}

run(async (browser) => {
  const dir = tmpdir('restart');
  const exe = build(dir, path.join(GAMES, 'tictactoe.live'));
  if (!exe) return;
  const port = await freePort();
  let srv = await start(exe, dir, port);
  check('the server prints two player links', srv.links.length === 2, srv.out);
  const ctx = await browser.newContext();
  const [x, o] = [await ctx.newPage(), await ctx.newPage()];
  await x.goto(srv.links[0]);
  await o.goto(srv.links[1]);
  await expect('both pages show the board', Promise.all([x, o].map((p) => p.waitForFunction(
    () => document.getElementById('board').getAttribute('aria-busy') === 'false', null, { timeout: WAIT_MS }))));

  await x.locator('#board button').nth(4).click();
  await waitMark(o, 4, 'X');
  await keyMove(o, 0);
  await expect('a move played with the keyboard reaches the other page', waitMark(x, 0, 'O'));
  await audit(o, 'tic-tac-toe page', check);

  await x.reload();
  await expect('a reload mid-game restores the board', Promise.all([waitMark(x, 4, 'X'), waitMark(x, 0, 'O')]));

  await x.locator('#board button').nth(2).click();
  await expect('the move before the stop is seen by the other page', waitMark(o, 2, 'X'));
  const mon = await ctx.newPage();
  await mon.goto(srv.base + '/admin');
  await mon.fill('#password', PW);
  await mon.click('#login button[type=submit]');
  await expect('the monitor signs in before the stop', mon.waitForSelector('#app:not([hidden])', { timeout: WAIT_MS }));
  check('no "signed out" note while signed in', await mon.isHidden('#login-expired'), '');

  const code = await stop(srv);
  check('SIGTERM stops the server with exit status 0', code === 0, `exit ${code}`);
  await expect('the pages notice the server is gone',
    Promise.all([waitStatus(x, /reconnecting|disconnected/), waitStatus(o, /reconnecting|disconnected/)]));
  await shot(x, 'restart-server-down');

  srv = await start(exe, dir, port);
  await expect('both pages reconnect by themselves after the restart',
    Promise.all([waitStatus(x, /^connected$/, 20000), waitStatus(o, /^connected$/, 20000)]));
  await expect('after the restart the monitor asks to log in again and says why',
    mon.waitForSelector('#login-expired:not([hidden])', { timeout: 30000 }));
  await mon.close();
  const [mx, mo] = [await marks(x), await marks(o)];
  const want = ['O', '', 'X', '', 'X', '', '', '', ''];
  check('no move was lost: both boards show every move made before the stop',
    JSON.stringify(mx) === JSON.stringify(want) && JSON.stringify(mo) === JSON.stringify(want),
    JSON.stringify({ mx, mo }));
  const list = await api(srv.base, 'GET', '/api/sessions');
  const st = list.json && list.json[0] ? await api(srv.base, 'GET', '/api/sessions/' + list.json[0].code) : null;
  const board = st && st.json ? st.json.groups[0].fields.board : null;
  check('the restarted server holds the same board', JSON.stringify(board) === '[2,0,1,0,1,0,0,0,0]',
    JSON.stringify(board));

  await o.locator('#board button').nth(1).click();
  await expect('after the restart a move reaches the other page', waitMark(x, 1, 'O'));
  await x.locator('#board button').nth(6).click();
  await expect('X wins and both pages move on to the results page', Promise.all([x, o].map((p) =>
    p.waitForFunction(() => !document.getElementById('next').hidden, null, { timeout: WAIT_MS }))));
  await shot(o, 'restart-results');
  await o.locator('#next button').click();
  await expect('Next leads to the finished page', o.waitForFunction(
    () => !document.getElementById('board') && /done|thank/i.test(document.body.textContent),
    null, { timeout: WAIT_MS }));
  // arrays go to CSV as JSON text
  const res = await fetch(srv.base + '/api/sessions/' + list.json[0].code + '/export/groups.csv',
    { headers: { Authorization: 'Bearer pw' } });
  const csv = await res.text();
  const rows = csv.split('\r\n');
  check('groups.csv writes the board array as JSON text in one quoted cell',
    rows[0] === 'session,group,board,whose_turn,winner' && rows[1].includes(',"[2,2,1,0,1,0,1,0,0]",'), csv);
  await stop(srv);
});
