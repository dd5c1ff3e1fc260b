#!/usr/bin/env node
// Browser test of live.js across a gap in which the browser gives up on its
// event stream: a proxy in front of the server answers 502 (as nginx does
// while the game restarts), Chromium's EventSource closes for good, and
// live.js opens a new one later.  That new stream carries the id of the
// last event received (?last_event_id=N), so the page gets exactly the
// messages of the gap, `on load` does not run again, and a `finish` sent
// during the gap moves the page on (it used to stay on the old page with
// the gap's messages lost).
'use strict';
const net = require('net');
const path = require('path');
const { check, expect, freePort, tmpdir, build, start, stop, run, WAIT_MS } = require('./lib');

/* A TCP proxy to port: 'up' forwards; '502' cuts every connection and
 * answers new requests 502 Bad Gateway. */
function proxy(port) {
  const conns = new Set();
  let mode = 'up';
  const server = net.createServer((c) => {
    c.on('error', () => {});
    if (mode === '502') {
      c.once('data', () => c.end('HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n' +
                                 'Content-Length: 11\r\nConnection: close\r\n\r\nBad Gateway'));
      return;
    }
    const s = net.connect(port, '127.0.0.1');
    const rec = { c, s };
    conns.add(rec);
    c.pipe(s);
    s.pipe(c);
    const end = () => { conns.delete(rec); c.destroy(); s.destroy(); };
    s.on('error', end); c.on('close', end); s.on('close', end);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port,
    set(m) {
      mode = m;
      if (m === '502') for (const r of conns) { r.c.destroy(); r.s.destroy(); }
    },
    close() { for (const r of conns) { r.c.destroy(); r.s.destroy(); } server.close(); },
  })));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

run(async (browser) => {
  const dir = tmpdir('reconnect');
  const exe = build(dir, path.join(__dirname, 'reconnect.live'));
  if (!exe) return;
  const srv = await start(exe, dir, await freePort());
  const px = await proxy(Number(new URL(srv.base).port));
  const [code1, code2] = srv.links.map((l) => l.split('/p/')[1]);
  const got = [];
  const page = await (await browser.newContext()).newPage();
  await page.exposeFunction('__keep', (m) => { got.push(JSON.parse(m)); });
  await page.goto(`http://127.0.0.1:${px.port}/p/${code1}`);
  await expect('the page gets its on load', page.waitForFunction(() => true).then(async () => {
    for (const end = Date.now() + WAIT_MS; Date.now() < end && got.length < 1;) await sleep(50);
    if (got.length < 1) throw new Error('no on load');
  }));

  px.set('502');                 // the browser's stream ends; its reconnects get 502
  await sleep(1500);
  const tell = (body) => fetch(`${srv.base}/p/${code2}/live`, { method: 'POST', body: JSON.stringify(body) });
  for (let k = 1; k <= 3; k++) await tell({ type: 'tell', k });
  await tell({ type: 'fin' });
  await sleep(2500);
  const gaveUp = await page.evaluate(() => window.__status.indexOf('closed') >= 0);
  check('during the 502s the browser gave up on its stream (live.js says "closed")', gaveUp,
    await page.evaluate(() => window.__status.join()));
  px.set('up');
  await expect('afterwards the page follows the finish of the gap to page two', page.waitForFunction(
    () => document.getElementById('page') && document.getElementById('page').textContent === 'two',
    null, { timeout: 20000 }));
  await sleep(500);
  const kinds = got.map((m) => (m.kind === 'told' ? `t${m.k}` : `${m.kind}${m.loads || ''}:${m.page || ''}`)).join(',');
  check('the messages of the gap arrived exactly once, with no second on load before them',
    /^load1:one,t1,t2,t3,load2:two$/.test(kinds), kinds);
  px.close();
  await stop(srv);
});
