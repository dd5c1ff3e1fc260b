#!/usr/bin/env node
// Browser test of rooms (/room/NAME, runtime/rooms.c, web/room.html +
// room.js) with the counter game (groups of 2):
//   - the admin opens room "lab" for 4 participants with the monitor's form;
//   - the first browser gets a seat and the wait page ("1 of 2"); a reload
//     keeps its seat (the cookie);
//   - the second browser completes group 1: it goes straight to its own
//     participant page, and the first browser's wait page follows by itself;
//   - coming back to /room/lab leads to the same participant;
//   - the third browser starts group 2 and waits; the monitor's room list
//     counts 3 of 4 arrivals; a fifth browser finds the room full.
'use strict';
const path = require('path');
const { check, expect, freePort, tmpdir, build, start, stop, run, shot, GAMES, PW, WAIT_MS } = require('./lib');
const { audit } = require('./a11y');

run(async (browser) => {
  const dir = tmpdir('rooms');
  const exe = build(dir, path.join(GAMES, 'counter.live'));
  if (!exe) return;
  const srv = await start(exe, dir, await freePort());
  const room = srv.base + '/room/lab';

  const admin = await (await browser.newContext()).newPage();
  await admin.goto(srv.base + '/admin');
  await admin.fill('#password', PW);
  await admin.click('#login button[type=submit]');
  await admin.waitForSelector('#app:not([hidden])', { timeout: WAIT_MS });
  await admin.fill('#room-name', 'lab');
  await admin.fill('#room-participants', '4');
  await admin.click('#room-create button[type=submit]');
  await expect('the admin opens room "lab" with the form', admin.waitForFunction(
    () => /room lab opened/.test(document.getElementById('room-result').textContent), null, { timeout: WAIT_MS }));
  await admin.waitForSelector('#rooms input[type=text]', { timeout: WAIT_MS }).catch(() => null);
  const roomLink = await admin.$eval('#rooms input[type=text]', (i) => i.value).catch(() => '');
  check('the monitor lists the room with its link', roomLink === room, roomLink);

  const browserAt = async () => (await browser.newContext()).newPage();
  const a = await browserAt();
  await a.goto(room);
  await expect('the first arrival waits: "1 of 2"', a.waitForFunction(
    () => /1 of 2/.test(document.getElementById('room-status').textContent), null, { timeout: WAIT_MS }));
  await shot(a, 'room-wait');
  await audit(a, 'wait page', check);
  await a.reload();
  await expect('a reload keeps the seat (still 1 of 2, not 2 of 2)', a.waitForFunction(
    () => /1 of 2/.test(document.getElementById('room-status').textContent), null, { timeout: WAIT_MS }));

  const b = await browserAt();
  await b.goto(room);
  check('the second arrival completes group 1 and goes straight to its page', /\/p\/[a-z0-9]+$/.test(b.url()), b.url());
  await expect('the waiting browser moves on to its page by itself', a.waitForURL(/\/p\/[a-z0-9]+$/, { timeout: WAIT_MS }));
  check('the two browsers are different participants', a.url() !== b.url(), `${a.url()} ${b.url()}`);
  await expect('both participant pages connect', Promise.all([a, b].map((p) => p.waitForFunction(
    () => /connected/.test(document.getElementById('status').textContent), null, { timeout: WAIT_MS }))));
  const who = await Promise.all([a, b].map((p) => p.textContent('#who')));
  check('they are players 1 and 2 of their group', who[0] === 'You are player 1' && who[1] === 'You are player 2',
    who.join(' / '));
  const first = a.url();
  await a.goto(room);
  check('coming back to the room leads to the same participant', a.url() === first, a.url());

  const c = await browserAt();
  await c.goto(room);
  await expect('the third arrival starts group 2 and waits', c.waitForFunction(
    () => /1 of 2/.test(document.getElementById('room-status').textContent), null, { timeout: WAIT_MS }));
  await expect('the monitor counts 3 of 4 arrivals', admin.waitForFunction(
    () => /3 of 4/.test(document.getElementById('rooms').textContent), null, { timeout: 15000 }).catch(async () => {
    await admin.reload();
    await admin.waitForFunction(() => /3 of 4/.test(document.getElementById('rooms').textContent),
      null, { timeout: WAIT_MS });
  }));
  const d = await browserAt();
  await d.goto(room);
  await expect('the fourth completes group 2; the third follows', c.waitForURL(/\/p\/[a-z0-9]+$/, { timeout: WAIT_MS }));
  const e = await browserAt();
  const res = await e.goto(room);
  const text = await e.textContent('body');
  check('a fifth browser finds the room full (409)', res.status() === 409 && /full/.test(text), `${res.status()} ${text}`);
  await stop(srv);
});
