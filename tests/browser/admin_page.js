#!/usr/bin/env node
// Browser test of the admin monitor (/admin, web/admin.html + admin.js) with
// the chat game (a table, free text):
//   - the login form refuses a wrong password and accepts the right one;
//   - the participant counts of "New session" and "Open room" start at the
//     game's group size (3), so the first click creates a session; its
//     participant links are shown;
//   - a participant's messages show up on the monitor by themselves, pushed
//     over the session's event stream (the fallback poll is 15 s), with the
//     group's fields, each player's page, the table rows and the recent
//     messages;
//   - the CSV links (players, groups, messages, the table) download files
//     that open cleanly in Python's csv module (csv_check.py: UTF-8, RFC
//     4180, one header row), with text holding a comma, quotes, a newline
//     and non-ASCII letters intact;
//   - the database download is a SQLite file that opens and passes
//     integrity_check;
//   - "Recent messages" keeps every column in view with a long body (cut,
//     whole in its title) and shows a body that is not JSON as text;
//   - closing the session makes the participant's next send fail with
//     "the session is closed", shown on the page;
//   - labels and contrast; screenshots kept.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { check, expect, freePort, tmpdir, build, start, stop, run, shot, GAMES, PW, WAIT_MS } = require('./lib');
const { audit } = require('./a11y');

const TRICKY = 'Zoë said: "hi, all"\nsecond line ✓';

/* Clicks `selector` on page and saves the download into dir; its path. */
async function download(page, selector, dir) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MS }), page.click(selector)]);
  const file = path.join(dir, dl.suggestedFilename());
  await dl.saveAs(file);
  return file;
}

run(async (browser) => {
  const dir = tmpdir('admin');
  const exe = build(dir, path.join(GAMES, 'chat.live'));
  if (!exe) return;
  const srv = await start(exe, dir, await freePort());
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 900 } });
  const admin = await ctx.newPage();
  admin.on('dialog', (d) => d.accept());
  await admin.goto(srv.base + '/admin');
  await expect('the admin page asks for the password', admin.waitForSelector('#login:not([hidden])', { timeout: WAIT_MS }));
  await admin.fill('#password', 'wrong');
  await admin.click('#login button[type=submit]');
  await expect('a wrong password is refused', admin.waitForSelector('#login-error:not([hidden])', { timeout: WAIT_MS }));
  await audit(admin, 'admin login', check);
  await admin.fill('#password', PW);
  await admin.click('#login button[type=submit]');
  await expect('the right password opens the monitor', admin.waitForSelector('#app:not([hidden])', { timeout: WAIT_MS }));

  // the chat game has groups of 3: both participant counts start at 3 (step
  // 3), so the first click creates a session (2 used to be refused with 400)
  await expect('"New session" and "Open room" default to the group size (3, step 3)', admin.waitForFunction(
    () => ['participants', 'room-participants'].every((id) => {
      const i = document.getElementById(id);
      return i.value === '3' && i.step === '3';
    }), null, { timeout: WAIT_MS }));
  await admin.click('#create button[type=submit]');
  await expect('a session is created with the form at the first click', admin.waitForFunction(
    () => /created session/.test(document.getElementById('create-result').textContent), null, { timeout: WAIT_MS }));
  await expect('its participant links are listed', admin.waitForFunction(
    () => document.querySelectorAll('#groups input[type=text]').length === 3, null, { timeout: WAIT_MS }));
  const links = await admin.$$eval('#groups input[type=text]', (xs) => xs.map((x) => x.value));
  check('the links are full participant URLs', links.every((l) => /^http:\/\/127\.0\.0\.1:\d+\/p\/[a-z0-9]+$/.test(l)),
    links.join(' '));
  await expect('the monitor follows the session over its event stream', admin.waitForFunction(
    () => /^live/.test(document.getElementById('updated').textContent), null, { timeout: WAIT_MS }));

  const player = await (await browser.newContext()).newPage();
  await player.goto(links[0]);
  await player.waitForFunction(() => typeof window.liveSend === 'function');
  const t0 = Date.now();
  const sent = await player.evaluate((text) => window.liveSend({ type: 'say', text }).then(() => 'ok', (e) => String(e)), TRICKY);
  check('the participant says a line', sent === 'ok', sent);
  await expect('the line shows up on the monitor by itself', admin.waitForFunction(
    () => /Zoë said/.test(document.getElementById('groups').textContent) &&
      /said/.test(document.getElementById('groups').textContent), null, { timeout: 5000 }));
  const lag = Date.now() - t0;
  check('within 3 s of the send (pushed, not polled)', lag < 3000, `${lag} ms`);
  const shown = await admin.evaluate(() => document.getElementById('groups').textContent);
  check('the monitor shows fields, pages, table rows and recent messages',
    /Table line \(1 rows\)/.test(shown) && /Recent messages/.test(shown) && /accepted/.test(shown) &&
    /talk/.test(shown), shown.slice(0, 300));
  await player.evaluate(() => window.liveSend({ type: 'say', text: '' }).catch(() => null));
  await admin.waitForFunction(() => /rejected/.test(document.getElementById('groups').textContent),
    null, { timeout: 5000 }).then(() => check('a rejected message shows with its reason', true),
    (e) => check('a rejected message shows with its reason', false, e.message));
  await shot(admin, 'admin-monitor');
  await audit(admin, 'admin monitor', check);

  // CSV downloads through the page's links
  const files = [];
  for (const sel of ['#csv-players', '#csv-groups', '#csv-messages', '#csv-tables a']) {
    try {
      files.push(await download(admin, sel, dir));
    } catch (e) {
      check(`the ${sel} link downloads a file`, false, e.message);
    }
  }
  check('four CSV files downloaded (players, groups, messages, table line)', files.length === 4,
    files.map((f) => path.basename(f)).join(' '));
  const py = spawnSync('python3', [path.join(__dirname, 'csv_check.py'), ...files], { encoding: 'utf8' });
  let res = {};
  try { res = JSON.parse(py.stdout); } catch (e) { /* reported below */ }
  check('every CSV opens cleanly in Python\'s csv module (UTF-8, RFC 4180, one header)', py.status === 0,
    py.stdout + py.stderr);
  const byName = (n) => Object.entries(res).find(([f]) => path.basename(f).endsWith(n + '.csv'));
  const msgs = byName('messages');
  check('messages.csv: time, participant, type, body, outcome, reason, group, id_in_group; both messages',
    msgs && JSON.stringify(msgs[1].header) === '["time","participant","type","body","outcome","reason","group","id_in_group"]' &&
    msgs[1].rows === 2, msgs && JSON.stringify(msgs[1]).slice(0, 300));
  const table = byName('line');
  const textCol = table ? table[1].header.indexOf('text') : -1;
  check('line.csv keeps the text with its comma, quotes, newline and UTF-8 intact',
    table && textCol >= 0 && table[1].cells[0][textCol] === TRICKY, table && JSON.stringify(table[1]).slice(0, 300));
  const players = byName('players');
  check('players.csv has a row per participant', players && players[1].rows === 3, players && players[1].rows);

  const db = await download(admin, '#db-download', dir).catch((e) => { check('the database downloads', false, e.message); return null; });
  if (db) {
    const q = spawnSync('python3', ['-c', `import sqlite3,sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("pragma integrity_check").fetchone()[0], c.execute("select count(*) from t_line").fetchone()[0],
      c.execute("select count(*) from participants").fetchone()[0])`, db], { encoding: 'utf8' });
    check('the downloaded database opens, is intact and holds both sessions (demo + new)', q.stdout.trim() === 'ok 1 6',
      q.stdout + q.stderr);
  }

  // "Recent messages": a long body (one word: no place to wrap) is cut in
  // its cell with its whole text in the title, the reason wraps, and the
  // outcome and reason columns stay in view; a body that is not JSON (logged
  // as rejected, 400) is shown as text, never as HTML.
  const LONG = 'long' + 'x'.repeat(240) + 'end';
  const HTML = '<img src=x id=injected>not json';
  const sentLong = await player.evaluate((text) => window.liveSend({ type: 'say', text }).then(() => 'ok', (e) => String(e)), LONG);
  check('the participant says a 250-character line', sentLong === 'ok', sentLong);
  const raw = await player.evaluate((body) => fetch(location.pathname + '/live', { method: 'POST', body,
    headers: { 'Content-Type': 'application/json' } }).then((r) => r.status), HTML);
  check('a body that is not JSON is answered 400', raw === 400, raw);
  await expect('both show up in the recent messages', admin.waitForFunction(
    () => /not json/.test(document.getElementById('groups').textContent) &&
      /longx+end/.test(document.getElementById('groups').textContent), null, { timeout: 5000 }));
  const lay = await admin.evaluate((long) => {
    const h = [...document.querySelectorAll('#groups h3')].find((x) => /^Recent messages/.test(x.textContent));
    const wrap = h && h.nextElementSibling;
    const table = wrap && wrap.querySelector('table');
    if (!table) return { error: 'no recent messages table' };
    const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
    const box = wrap.getBoundingClientRect();
    const out = { heads, scroll: wrap.scrollWidth - wrap.clientWidth, hidden: [], longTitle: null };
    for (const name of ['outcome', 'reason']) {
      const k = heads.indexOf(name);
      if (k < 0) { out.hidden.push(name + ': no column'); continue; }
      for (const tr of table.querySelectorAll('tr')) {
        const r = tr.children[k].getBoundingClientRect();
        if (r.right > box.right + 1 || r.left < box.left - 1) out.hidden.push(`${name} at ${r.left}..${r.right}`);
      }
    }
    const kb = heads.indexOf('body');
    for (const tr of table.querySelectorAll('tbody tr')) {
      const cell = tr.children[kb];
      if (cell && cell.textContent.indexOf(long) >= 0) {
        const t = cell.querySelector('[title]') || cell;
        out.longTitle = t.getAttribute('title');
        out.longWidth = cell.getBoundingClientRect().width;
      }
    }
    out.img = !!document.querySelector('#groups img, #injected');
    out.htmlText = [...table.querySelectorAll('td')].some((td) => td.textContent === '<img src=x id=injected>not json');
    return out;
  }, LONG);
  check('a long body keeps the outcome and reason columns in view (no sideways scroll)',
    lay.hidden && lay.hidden.length === 0 && lay.scroll <= 1, JSON.stringify(lay));
  check('the long body is cut in its cell, the whole of it in the title',
    lay.longTitle && lay.longTitle.indexOf(LONG) >= 0 && lay.longWidth < 500, JSON.stringify(lay));
  check('a body that is not JSON is shown as text, not HTML', lay.htmlText && !lay.img, JSON.stringify(lay));
  await shot(admin, 'admin-long-body');

  await admin.click('#close-session');
  await expect('closing the session shows it closed', admin.waitForSelector('#closed-note:not([hidden])', { timeout: WAIT_MS }));
  const after = await player.evaluate(() => window.liveSend({ type: 'say', text: 'late' }).then(() => 'ok', (e) => String(e)));
  check('a closed session refuses messages: "the session is closed"', after === 'the session is closed', after);
  await shot(admin, 'admin-closed');
  await stop(srv);
});
