#!/usr/bin/env node
// Browser test: two real Chromium pages play tic-tac-toe to its end against a
// freshly compiled server, clicking the board like people do.
//   LIVEC=./livec GAMES=games node tests/browser/tictactoe.js
// Needs /usr/bin/chromium (Debian's) and playwright-core (npm install in
// tests/browser). Screenshots go to $ARTIFACTS (default tests/browser/artifacts).
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const LIVEC = process.env.LIVEC || 'livec';
const GAMES = process.env.GAMES || path.join(__dirname, '..', '..', 'games');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = process.env.ARTIFACTS || path.join(__dirname, 'artifacts');
let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || detail === undefined ? '' : ' -- ' + detail}`);
}

async function main() {
  let chromium;
  try { ({ chromium } = require('playwright-core')); } catch (e) {
    console.log('SKIP: playwright-core is not installed (npm install --prefix tests/browser)');
    process.exit(77);
  }
  if (!fs.existsSync(CHROMIUM)) { console.log(`SKIP: no browser at ${CHROMIUM}`); process.exit(77); }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'browser-ttt-'));
  const c = spawnSync(LIVEC, [path.join(GAMES, 'tictactoe.live')], { cwd: dir, encoding: 'utf8' });
  check('livec builds tictactoe', c.status === 0, c.stderr);
  if (c.status !== 0) return;
  const srv = spawn(path.join(dir, 'tictactoe'), ['--port', '0', '--db', path.join(dir, 'db.sqlite3'), '--admin-password', 'pw'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const out = await new Promise((resolve) => {
    let buf = '';
    const t = setTimeout(() => resolve(buf), 10000);
    srv.stdout.on('data', (d) => {
      buf += d;
      if ((buf.match(/player \d+: \S+\n/g) || []).length >= 2) { clearTimeout(t); resolve(buf); }
    });
  });
  const links = [...out.matchAll(/player (\d+): (\S+)/g)].map((m) => m[2]);
  check('server prints two player links', links.length === 2, out);
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const ctx = await browser.newContext();
    const [x, o] = [await ctx.newPage(), await ctx.newPage()];
    await x.goto(links[0]); await o.goto(links[1]);
    const sq = (p, i) => p.locator('#board button').nth(i);
    await x.waitForFunction(() => document.querySelector('#board').getAttribute('aria-busy') === 'false', null, { timeout: 5000 });
    await o.waitForFunction(() => document.querySelector('#board').getAttribute('aria-busy') === 'false', null, { timeout: 5000 });
    check('both pages show the board', true);
    await sq(o, 4).click();
    await o.waitForFunction(() => /not your turn/.test(document.querySelector('#refused').textContent), null, { timeout: 5000 })
      .then(() => check('an out-of-turn click shows why it was refused', true),
        (e) => check('an out-of-turn click shows why it was refused', false, e.message));
    // PROTOCOL.md: liveSend "rejects with the 422 reason"
    const rej = await o.evaluate(() => window.liveSend({ type: 'move', square: 4 }).then(() => null,
      (r) => ({ type: typeof r, strict: r === 'not your turn', text: String(r) })));
    check('a rejected liveSend rejects with the reason itself, a plain string (r === "not your turn")',
      rej && rej.type === 'string' && rej.strict === true && rej.text === 'not your turn', JSON.stringify(rej));
    // X: 4, O: 0, X: 2, O: 1, X: 6 -> X wins on the diagonal 2-4-6.
    const moves = [[x, 4], [o, 0], [x, 2], [o, 1], [x, 6]];
    for (let k = 0; k < moves.length; k++) {
      const [p, i] = moves[k];
      await sq(p, i).click();
      const other = p === x ? o : x;
      if (k < moves.length - 1) {
        await other.waitForFunction((i) => document.querySelectorAll('#board button')[i].textContent !== '', i, { timeout: 5000 });
      }
    }
    check('the other page sees every move', true);
    // finish moves both pages on to the results page: the final board, the
    // winner, and a Next button to the finished page.
    const results = async (p) => p.waitForFunction(() => {
      const n = document.querySelector('#next');
      return n && !n.hidden && /X wins/.test(document.querySelector('#turn').textContent);
    }, null, { timeout: 5000 }).then(() => true, () => false);
    check('both pages move on to the results page showing the winner', (await results(x)) && (await results(o)));
    await x.screenshot({ path: path.join(ARTIFACTS, 'tictactoe-x-results.png') }).catch(() => {});
    await o.click('#next button');
    const finished = await o.waitForFunction(() => !document.querySelector('#board'), null, { timeout: 5000 })
      .then(() => true, () => false);
    check('Next leads to the finished page', finished);
    await o.screenshot({ path: path.join(ARTIFACTS, 'tictactoe-o-finished.png') }).catch(() => {});
    const text = await o.textContent('body');
    check('the finished page says so', /finished|done|thank/i.test(text), text.slice(0, 200));
  } catch (e) {
    check('browser scenario ran', false, e.stack);
  } finally {
    if (browser) await browser.close();
    srv.kill('SIGTERM');
  }
}

main().then(() => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
