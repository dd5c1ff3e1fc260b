// e2e_browser.js -- the browser side in a real browser: headless Chromium
// (driven over the DevTools protocol, tests/e2e/cdp.js) loads the pages of
// servers built by livec, under their real Content-Security-Policy, and
// plays as a person would:
//   - tic-tac-toe in two tabs: the board, a refused move's reason on the
//     page, a server killed with -9 and restarted on the same port (the tabs
//     reconnect by themselves and play on), the win, both tabs following
//     `finish` to the finished page;
//   - the counter's default live page: liveSend queued before the stream is
//     open, liveError for uncaught rejections, the generated forms (accepted
//     and refused sends), received data shown as text (no HTML injection),
//     the Next button;
//   - the admin monitor: login form, wrong and right password, the session
//     and its state, logout.
// Skipped (exit 77) when no Chromium is installed; set CHROMIUM to choose
// one, SCREENSHOTS=DIR to keep PNGs of the pages.
'use strict';
const path = require('path');
const {
  sleep, check, run, tmpdir, compile, Server, newSession, http,
} = require('./lib.js');
const { Browser, findChromium } = require('./cdp.js');

const SHOTS = process.env.SCREENSHOTS || null;

const exe = findChromium();
if (!exe) {
  console.log('# SKIP: no chromium found (set CHROMIUM)');
  process.exit(77);
}

/* Text of the tic-tac-toe page's parts, for checks. */
const TTT = `({turn: document.getElementById('turn').textContent,
  refused: document.getElementById('refused').textContent,
  status: document.getElementById('status').textContent,
  cells: Array.from(document.querySelectorAll('#board button')).map((b) => b.textContent || '.').join('')})`;
const click = (b, tab, sq) => b.eval(tab, `document.querySelectorAll('#board button')[${sq}].click()`);
/* Problems the browser reported: exceptions, CSP violations, console errors
 * other than failed requests (a refused move is a 422 that Chromium logs). */
const problems = (b) => b.logs.filter((l) => /^exception|Content Security Policy|^console\.error/.test(l));

async function tictactoe(b) {
  const dir = tmpdir('browser-ttt');
  const bin = compile('tictactoe', dir);
  if (!bin) return;
  const db = path.join(dir, 'ttt.sqlite3');
  let srv = new Server(bin, dir, db);
  if (!check('tic-tac-toe server starts', await srv.start(), srv.stderr)) return;
  const base = srv.base;
  const port = Number(new URL(base).port);
  const s = await newSession(base, 2);
  if (!s) return;
  const [pa, pb] = s.participants;

  const A = await b.page(base + pa.url);
  const B = await b.page(base + pb.url);
  let a = await b.until(A, `(${TTT}).turn.includes('Your turn') && ${TTT}`);
  let bb = await b.until(B, `(${TTT}).turn.includes('Waiting for X') && ${TTT}`);
  check('ttt: both tabs show the empty board, X to play, connected',
    a && bb && a.cells === '.........' && a.status === 'connected' && /Waiting for X/.test(bb.turn),
    JSON.stringify([a, bb]));
  check('ttt: each tab says which mark it plays',
    /You play X/.test(await b.eval(A, "document.getElementById('me').textContent")) &&
    /You play O/.test(await b.eval(B, "document.getElementById('me').textContent")));

  await click(b, B, 4);
  bb = await b.until(B, `(${TTT}).refused && ${TTT}`);
  check("ttt: a refused move shows the server's reason", bb && /not your turn/.test(bb.refused), JSON.stringify(bb));

  await click(b, A, 4);
  bb = await b.until(B, `(${TTT}).cells === '....X....' && ${TTT}`);
  check("ttt: a move appears in the other tab and it is O's turn there",
    bb && /Your turn/.test(bb.turn), JSON.stringify(bb));
  if (SHOTS) await b.screenshot(B, path.join(SHOTS, 'tictactoe.png'));

  await srv.stop('SIGKILL');
  a = await b.until(A, `/reconnect/.test((${TTT}).status) && ${TTT}`);
  check('ttt: the tab shows that it lost the server', !!a, JSON.stringify(a));
  srv = new Server(bin, dir, db);
  if (!check('ttt: the server restarts on the same port after kill -9', await srv.start(port), srv.stderr)) return;
  a = await b.until(A, `(${TTT}).status === 'connected' && ${TTT}`, 8000);
  check('ttt: the tab reconnects by itself with the board kept', a && a.cells === '....X....', JSON.stringify(a));
  await b.until(B, `(${TTT}).status === 'connected'`, 8000);

  await click(b, B, 0);
  a = await b.until(A, `(${TTT}).cells === 'O...X....' && ${TTT}`);
  check('ttt: play goes on after the restart', a && /Your turn/.test(a.turn), JSON.stringify(a));
  for (const [tab, sq, want] of [[A, 2, 'O.X.X....'], [B, 1, 'OOX.X....']]) {
    await click(b, tab, sq);
    await b.until(tab === A ? B : A, `(${TTT}).cells === '${want}'`);
  }
  await click(b, A, 6);
  const onResults = "!document.getElementById('next').hidden && /wins/.test(document.getElementById('turn').textContent) && document.getElementById('turn').textContent";
  const resA = await b.until(A, onResults, 6000);
  const resB = await b.until(B, onResults, 6000);
  check('ttt: after the win both tabs follow finish to the results page, which shows the winner',
    /X wins/.test(resA || '') && /X wins/.test(resB || ''), JSON.stringify([resA, resB]));
  await b.eval(A, "document.querySelector('#next button').click(), true");
  const endA = await b.until(A, "location.pathname && !document.getElementById('board') && document.body.innerText", 6000);
  check('ttt: Next on the results page leads to the finished page', /you are done/i.test(endA || ''), JSON.stringify(endA));
  await srv.stop();
}

async function counter(b) {
  const dir = tmpdir('browser-counter');
  const bin = compile('counter', dir);
  if (!bin) return;
  const srv = new Server(bin, dir);
  if (!check('counter server starts', await srv.start(), srv.stderr)) return;
  const base = srv.base;
  const s = await newSession(base, 2);
  if (!s) return;
  const [pa, pb] = s.participants;

  // Runs in the page before its scripts: once the document is parsed (live.js
  // and live-page.js ran, the stream not yet open) it sends twice.
  const early = `window.__seen = [];
    document.addEventListener('readystatechange', function () {
      if (document.readyState !== 'interactive' || !window.liveSend) return;
      window.liveError = function (r) { __seen.push('liveError: ' + r); };
      liveSend({type: 'add', amount: BigInt(1)}).catch(function (e) { __seen.push(typeof e + ' ' + e); });
      liveSend({type: 'add', amount: 2}).then(function (a) { __seen.push('ok ' + JSON.stringify(a)); });
      liveSend({type: 'add', amount: 0});
      liveSend({type: 'add', amount: -1}).catch(function (e) { __seen.push('caught ' + typeof e + ' ' + e); });
    });`;
  const A = await b.page(base + pa.url, early);
  const B = await b.page(base + pb.url);
  const log = "Array.from(document.querySelectorAll('#log pre')).map((p) => JSON.parse(p.textContent))";
  const la = await b.until(A, `${log}.length >= 2 && ${log}`);
  check('live page: sends made before the stream opened were queued, then sent (on load first, then the add)',
    la && la[0].total === 0 && la[0].clicks === 0 && la[1].total === 2 && la[1].by === 1, JSON.stringify(la));
  const seen = await b.until(A, '__seen.length >= 4 && __seen');
  check('live page: liveSend resolves with the answer, uncaught rejections go to liveError, caught ones do not',
    seen && /^string liveSend: the data cannot be sent as JSON/.test(seen[0]) && seen[1] === 'ok {"ok":true}' &&
    seen.length === 4 && seen.some((x) => /^liveError: .*amount/.test(x)) &&
    seen.some((x) => /^caught string .*amount/.test(x)),
    JSON.stringify(seen));
  check('live page: the header names the player and the page',
    /player 1/.test(await b.eval(A, "document.querySelector('header').textContent")));

  const form = (i) => `document.querySelectorAll('form.msg')[${i}]`;
  const shape = await b.eval(A, `(() => { const i = ${form(0)}.querySelector('input');
    const t = ${form(1)}.querySelector('input');
    return [i.type, i.min, i.max, i.step, i.required, t.type, t.maxLength,
      ${form(0)}.querySelector('label').htmlFor === i.id]; })()`);
  check('live page: forms follow the fields (number 1..1000 step 1 required; text maxlength 50; labels)',
    JSON.stringify(shape) === JSON.stringify(['number', '1', '1000', '1', true, 'text', 50, true]), JSON.stringify(shape));

  await b.eval(A, `(() => { ${form(0)}.querySelector('input').value = '12'; ${form(0)}.requestSubmit(); })()`);
  const ok = await b.until(A, `/sent/.test(${form(0)}.querySelector('.result').textContent) &&
    [${form(0)}.querySelector('.result').textContent, ${form(0)}.querySelector('input').value]`);
  check('live page: an accepted form send is acknowledged and the form cleared', ok && ok[1] === '', JSON.stringify(ok));
  const lb = await b.until(B, `${log}.some((m) => m.total === 14) && ${log}`);
  check("live page: the other player's page shows the message", !!lb, JSON.stringify(lb));

  await b.eval(A, `(() => { ${form(0)}.noValidate = true; ${form(0)}.querySelector('input').value = '5000'; ${form(0)}.requestSubmit(); })()`);
  const bad = await b.until(A, `/refused/.test(${form(0)}.querySelector('.result').textContent) && ${form(0)}.querySelector('.result').textContent`);
  check("live page: a refused send shows the server's reason beside its form", /amount/.test(bad || ''), bad);

  const evil = '<img src=x onerror="window.__pwned=1">';
  await b.eval(A, `(() => { ${form(1)}.querySelector('input').value = ${JSON.stringify(evil)}; ${form(1)}.requestSubmit(); })()`);
  const shown = await b.until(B, `${log}.some((m) => m.note !== undefined) && document.getElementById('log').innerHTML`);
  check('live page: received data is shown as text, never as HTML',
    shown && !(await b.eval(B, "document.querySelectorAll('#log img').length")) &&
    !(await b.eval(B, 'window.__pwned === 1')), shown && shown.slice(-200));
  if (SHOTS) await b.screenshot(A, path.join(SHOTS, 'live-page.png'));

  await b.eval(B, "document.querySelector('form.next button').click()");
  const fin = await b.until(B, "!document.getElementById('log') && document.body.innerText", 6000);
  check('live page: the Next button leads to the finished page', /you are done/i.test(fin || ''), fin);

  // ---- admin ----
  const M = await b.page(base + '/admin');
  const login = await b.until(M, "!document.getElementById('login').hidden");
  check('admin: without the cookie the monitor shows the login form', !!login);
  await b.eval(M, "document.getElementById('password').value = 'nope'; document.querySelector('#login form').submit()");
  const wrong = await b.until(M, "/error/.test(location.search) && !document.getElementById('login-error').hidden");
  check('admin: a wrong password says so', !!wrong);
  await b.eval(M, "document.getElementById('password').value = 'pw'; document.querySelector('#login form').submit()");
  const codeCell = await b.until(M, `Array.from(document.querySelectorAll('#sessions tr')).some((r) => r.dataset.code === ${JSON.stringify(s.code)})`, 6000);
  check('admin: after login the session is listed', !!codeCell);
  await b.eval(M, `location.hash = ${JSON.stringify('#' + s.code)}`);
  const state = await b.until(M, `/total/.test(document.getElementById('groups').textContent) &&
    Array.from(document.querySelectorAll('#groups input')).map((i) => i.value)`, 6000);
  check('admin: the session shows its group state and the participant links',
    state && state.includes(base + pa.url) && state.includes(base + pb.url), JSON.stringify(state));
  await http(base, 'POST', `/p/${pa.code}/live`, { type: 'add', amount: 100 });
  const refreshed = await b.until(M, "/114/.test(document.getElementById('groups').textContent)", 6000);
  check('admin: the state refreshes by itself', !!refreshed);
  if (SHOTS) await b.screenshot(M, path.join(SHOTS, 'admin.png'));
  await b.eval(M, "document.getElementById('logout').submit()");
  const out = await b.until(M, "!document.getElementById('login').hidden", 6000);
  check('admin: logging out shows the login form again', !!out);
  await srv.stop();
}

async function main() {
  const b = new Browser(exe);
  b.start();
  try {
    await tictactoe(b);
    await counter(b);
    const bad = problems(b);
    check('no script exception, CSP violation or console error in any page', bad.length === 0, bad.join(' | '));
  } finally {
    await b.stop();
  }
}

run(main);
