#!/usr/bin/env node
// lang.js -- LANGUAGE.md features in combination, driven over HTTP/SSE
// like the public checks (same lib.js, same `eventsource` client): tables
// with views and sort orders in handlers that also send to player(E),
// send targets in statement order, rejected handlers that already sent or
// changed state, timers from handlers, `on load` and restarts, timers and
// `finish`, validation at the exact bounds and with wrong JSON types,
// formatting of every type in events, integer overflow and division,
// groups filling, pages and finish with players on different pages.
// Written by a review of the sixth session.  Games: ./games/.  Run with
// tests/conformance/run-extra lang [group ...] (LIVEC as for the public run).
'use strict';
const path = require('path');
const fs = require('fs');
const { L, GAMES, AUTH, rawStream, build, boot, withSrv, pairUp: pairOf, parseCsv, isJsonErr } = require('./common.js');
const { PW, sleep, check, tmpdir, compile, Server, http, newSession, Client, eq, hasError, runGroups } = L;


// A client that also records finish events, in order with the messages.
class XClient extends Client {
  constructor(base, code, lastId) {
    super(base, code, lastId);
    this.all = [];
    this.finishes = [];
    this.es.addEventListener('message', (e) => this.all.push({ kind: 'message', id: Number(e.lastEventId), data: JSON.parse(e.data) }));
    this.es.addEventListener('finish', (e) => { this.finishes.push({ id: Number(e.lastEventId), data: e.data }); this.all.push({ kind: 'finish', id: Number(e.lastEventId), data: JSON.parse(e.data) }); });
  }
  ids() { return this.all.map((m) => m.id); }
  datas(from = 0) { return this.msgs.slice(from).map((m) => m.data); }
  async settle(ms = 150) { await sleep(ms); }
}





// A session of n with every stream open; waits for `loads` messages each (0 for games without on load).
async function group(srv, cs, n, loads = 1) {
  const s = await newSession(srv.base, n);
  if (!s) return null;
  const cl = s.participants.map((p) => new XClient(srv.base, p.code));
  cs.push(...cl);
  if (loads) await Promise.all(cl.map((c) => c.waitCount(loads)));
  else { const end = Date.now() + 3000; while (Date.now() < end && !cl.every((c) => c.opened)) await sleep(20); }
  return { s, cl };
}
const post = (c, body) => c.send(body);
const row = (id, who, amount, tag = 't', live = true) => ({ id, who, amount, tag, live });

// ---------------------------------------------------------------- tables
async function tables() {
  await withSrv('tabs', async (srv, cs) => {
    const g = await group(srv, cs, 6, 0);
    if (!g) return;
    const [a, b, c, d, e, f] = g.cl;
    const bids = [[a, 5, undefined], [b, 7.5, 'B'], [c, 5, 'a'], [a, 7.5, 'é'], [b, 1, 'x'], [c, 100, 'Z']];
    let okAll = true;
    for (const [who, amount, tag] of bids) {
      const r = await post(who, tag === undefined ? { type: 'bid', amount } : { type: 'bid', amount, tag });
      okAll = okAll && r.status === 200;
    }
    check('tables: six inserts from three players answer 200', okAll);
    await a.waitCount(8);
    check('tables: send player(1) reaches player 1 for every insert, then send me, in statement order',
      eq(a.datas().filter((x) => x.seen !== undefined).map((x) => [x.seen, x.last_by]), [[1, 1], [2, 2], [3, 3], [4, 1], [5, 2], [6, 3]]) &&
      eq(a.datas().map((x) => (x.seen !== undefined ? 's' : 'm')).join(''), 'smsssmss'), JSON.stringify(a.datas()));
    const mine = a.msgs[5] && a.msgs[5].data;
    check('tables: a view with `where who == me.id order by amount desc` gives the sender\'s rows',
      mine && eq(mine, { me_id: 1, my_bids: [row(4, 1, 7.5, 'é'), row(1, 1, 5)], ok: true }), JSON.stringify(mine));
    const nB = b.msgs.length; const nC = c.msgs.length; const nA = a.msgs.length;
    let r = await post(b, { type: 'book', to: 3 });
    await c.waitCount(nC + 3); await a.waitCount(nA + 1); await b.waitCount(nB + 1);
    await sleep(150);
    const cs3 = c.datas(nC);
    const all6 = [row(1, 1, 5), row(2, 2, 7.5, 'B'), row(3, 3, 5, 'a'), row(4, 1, 7.5, 'é'), row(5, 2, 1, 'x'), row(6, 3, 100, 'Z')];
    const byId = (ids) => ids.map((i) => all6[i - 1]);
    check('tables: player(E) gets the view first, then others\' message, then its own -- statement order',
      r.status === 200 && cs3.length === 3 && cs3[0].all_bids && eq(cs3[1], { n: 6 }) && cs3[2].to === 3, JSON.stringify(cs3));
    const bd = cs3[0] || {};
    check('tables: a table value is in id order', eq(bd.all_bids, all6), JSON.stringify(bd.all_bids));
    check('tables: order by amount desc keeps ties in id order', eq(bd.by_amount_desc, byId([6, 2, 4, 1, 3, 5])), JSON.stringify(bd.by_amount_desc && bd.by_amount_desc.map((x) => x.id)));
    check('tables: order by amount asc keeps ties in id order', eq(bd.by_amount_asc, byId([5, 1, 3, 2, 4, 6])), JSON.stringify(bd.by_amount_asc && bd.by_amount_asc.map((x) => x.id)));
    check('tables: order by a bool desc with every row equal is id order', eq(bd.by_live, all6), '');
    check('tables: order by id desc', eq(bd.by_id_desc, byId([6, 5, 4, 3, 2, 1])), '');
    check('tables: count(T) and count(T where COND) in a view', bd.n === 6 && bd.n_live === 6, JSON.stringify([bd.n, bd.n_live]));
    check('tables: a view sent to player(E) evaluates `me` as the sender',
      eq(cs3[2], { me_id: 2, my_bids: [row(2, 2, 7.5, 'B'), row(5, 2, 1, 'x')], to: 3 }), JSON.stringify(cs3[2]));
    check('tables: send others after send player(3) reaches 1 and 3, not the sender 2',
      eq(a.last(), { n: 6 }) && !b.datas(nB).some((x) => x.n === 6 && x.all_bids === undefined), JSON.stringify(b.datas(nB)));
    // the other group has its own rows and ids
    r = await post(d, { type: 'bid', amount: 6 });
    await d.waitCount(2);
    check('tables: another group of the same session numbers its rows from 1 and sees none of group 1\'s',
      r.status === 200 && eq(d.msgs[1] && d.msgs[1].data, { me_id: 1, my_bids: [row(1, 1, 6)], ok: true }) && e.msgs.length === 0 && f.msgs.length === 0, JSON.stringify(d.msgs));
    // shadowing: a column hides a local of the same name inside where/order by
    const n0 = a.msgs.length;
    r = await post(a, { type: 'shadow', who: 2 });
    await a.waitCount(n0 + 1);
    check('tables: inside where a bare column name shadows a local of the same name',
      eq(a.last(), { mine: 2, who: 99, rows: byId([5, 2]) }), JSON.stringify(a.last()));
    r = await post(a, { type: 'nest' });
    await a.waitCount(n0 + 2);
    check('tables: in nested loops a bare name is the innermost row\'s', eq(a.last(), { pairs: 3, cnt: 2, marks: 0 }), JSON.stringify(a.last()));
    // sorted loop that sends to each owner, inserts during the loop, flips rows
    const nb = b.msgs.length; const nc2 = c.msgs.length;
    r = await post(b, { type: 'sweep' });
    await c.waitCount(nc2 + 2); await b.waitCount(nb + 1);
    await sleep(150);
    const sw = b.last();
    check('tables: a sorted loop sends to player(r.who) for the top row; a row inserted in the loop takes the next id',
      r.status === 200 && eq(c.datas(nc2)[0], { rank: 1, id: 6, amount: 100 }) && sw && sw.after && sw.after.length === 7 && sw.after[6].id === 7 && sw.after[6].who === 2 && sw.after[6].tag === 'new',
      JSON.stringify([c.datas(nc2), sw]));
    check('tables: the sweep\'s `send all` reaches all three after the per-row sends', eq(a.last(), sw) && eq(c.last(), sw), JSON.stringify(a.last()));
    // delete in a sorted loop, insert into another table during it
    const nc = c.msgs.length;
    r = await post(c, { type: 'churn' });
    await c.waitCount(nc + 1);
    const ch = c.last();
    check('tables: a loop sorted by amount asc visits each row once, not rows inserted meanwhile; delete r in the loop',
      ch && ch.seen === 7 && eq(ch.marks.map((m) => [m.id, m.k]), [[1, 7], [7, 6], [2, 5], [6, 4], [4, 3], [5, 2], [3, 1]]) && eq(ch.left.map((x) => x.id), [1, 2, 3, 4, 6, 7]),
      JSON.stringify(ch));
    r = await post(c, { type: 'kill', id: 5 });
    await c.waitCount(nc + 2);
    check('tables: deleting an id that is gone already changes nothing', r.status === 200 && eq(c.last(), { left: 6 }), JSON.stringify(c.last()));
    r = await post(a, { type: 'bid', amount: 1 });
    const st = await http(srv.base, 'GET', `/api/sessions/${g.s.code}`, undefined, AUTH);
    const tb = st.json && st.json.groups[0].tables;
    check('tables: ids are never reused after deletes (next id 8)', tb && eq(tb.bid.map((x) => x.id), [1, 2, 3, 4, 6, 7, 8]) && eq(tb.mark.map((x) => x.id), [1, 2, 3, 4, 5, 6, 7]), JSON.stringify(tb));
  });
}

// ---------------------------------------------------------------- sends and rejections
async function sends() {
  await withSrv('sends', async (srv, cs) => {
    const g = await group(srv, cs, 3);
    if (!g) return;
    const [a, b, c] = g.cl;
    check('sends: on load gives each player its id and the view', eq(a.msgs[0].data, { n: 0, log: '', entries: 0, ticks: 0, loads: 1, id: 1 }) && b.msgs[0].data.id === 2 && c.msgs[0].data.id === 3, JSON.stringify(a.msgs));
    let r = await post(b, { type: 'mix', to: 2 });
    r = await post(a, { type: 'mix', to: 3 });
    await Promise.all([a.waitCount(7), b.waitCount(8), c.waitCount(8)]);
    await sleep(150);
    const ks = (x) => x.datas(1).map((d) => d.k);
    check('sends: me, all, player(E)=me, others, all in statement order (sender 2 to 2, then sender 1 to 3)',
      eq(ks(b), ['all1', 'me', 'to', 'all2', 'all1', 'others', 'all2']) &&
      eq(ks(a), ['all1', 'others', 'all2', 'all1', 'me', 'all2']) &&
      eq(ks(c), ['all1', 'others', 'all2', 'all1', 'to', 'others', 'all2']), JSON.stringify([ks(a), ks(b), ks(c)]));
    check('sends: each message takes the next id per recipient', [a, b, c].every((x) => eq(x.ids(), x.ids().map((_, i) => i + 1))), JSON.stringify([a.ids(), b.ids(), c.ids()]));
    const counts = [a, b, c].map((x) => x.msgs.length);
    const reasons = [
      [0, /^mode 0$/], [1, /^mode 1$/], [2, /division by zero/], [3, /^guard says 7$/], [4, /^stopped$/], [5, /^after finish$/],
      [6, /out of bounds|index/], [7, /player|4/], [9, /overflow/],
    ];
    for (const [mode, re] of reasons) {
      r = await post(a, { type: 'bad', mode, to: 2 });
      check(`sends: a handler that changed state, inserted, sent to all and player(E), then failed (mode ${mode}) is 422 with its reason`, hasError(r, 422, re), r.text);
    }
    await sleep(400);
    check('sends: none of the rejected handlers\' sends (nor fn sends) reached anyone', [a, b, c].every((x, i) => x.msgs.length === counts[i]), JSON.stringify([a, b, c].map((x) => x.datas(counts[0]))));
    r = await post(a, { type: 'peek' });
    await a.waitCount(counts[0] + 1);
    check('sends: after the rejections group, player and table state are as before; finish was undone',
      eq(a.last(), { n: 2, log: '', entries: 0, ticks: 0, score: 0, page: 'live', pages: ['live', 'live', 'live'] }) && a.finishes.length === 0 && b.finishes.length === 0, JSON.stringify(a.last()));
    check('sends: a timer started in a rejected handler never fires', !a.msgs.some((m) => m.data.tick !== undefined), JSON.stringify(a.datas(counts[0])));
    // a stop in a rejected handler does not happen
    r = await post(a, { type: 'arm', ms: 300 });
    const r2 = await post(b, { type: 'bad', mode: 4 });
    const tk = await c.waitFor((d) => d.tick === 1, 2000);
    check('sends: `stop timer` in a rejected handler does not happen: the timer fires', r.status === 200 && r2.status === 422 && tk && tk.n === 2, JSON.stringify(tk));
    // return after fn sends: changes and sends stand
    const n3 = c.msgs.length; const n1 = a.msgs.length;
    r = await post(c, { type: 'bad', mode: 8, to: 3 });
    await c.waitCount(n3 + 4); await a.waitCount(n1 + 2);
    await sleep(150);
    check('sends: `return` after sends and a fn\'s send: all delivered, in order, to the right players',
      r.status === 200 && eq(c.datas(n3), [{ leaked: 8 }, { leaked_to: 8 }, { bumped: 103 }, { b: 103 }]), JSON.stringify(c.datas(n3)));
    check('sends: others only saw the `send all`s', eq(a.datas(n1), [{ leaked: 8 }, { bumped: 103 }]), JSON.stringify(a.datas(n1)));
    const n4 = c.msgs.length;
    r = await post(c, { type: 'early', v: 4 });
    r = await post(c, { type: 'early', v: 0 });
    await c.waitCount(n4 + 3);
    check('sends: `return` stops before the rest of the handler; without it the rest runs', eq(c.datas(n4), [{ before: 4 }, { before: 0 }, { unreachable: true }]), JSON.stringify(c.datas(n4)));
    const nb = b.msgs.length; const na = a.msgs.length; const nc = c.msgs.length;
    r = await post(b, { type: 'snap' });
    await b.waitCount(nb + 2); await a.waitCount(na + 1); await c.waitCount(nc + 1);
    check('sends: a view is evaluated at each send; spread then a later key wins',
      eq(b.datas(nb), [{ n: 0, log: 'bad', entries: 2, ticks: 1 }, { n: 1, log: 'bad', entries: 3, ticks: 1 }]) &&
      eq(a.last(), { n: -2, log: 'bad', entries: 3, ticks: 1 }) && eq(c.last(), { n: -2, log: 'bad', entries: 3, ticks: 1 }), JSON.stringify([b.datas(nb), a.last()]));
    // on load via POST {} and via a new tab
    const nA = a.msgs.length;
    r = await post(a, {});
    await a.waitCount(nA + 1);
    check('sends: liveSend({}) runs on load for the sender only with its player state', r.status === 200 && eq(a.last(), { n: 2, log: 'bad', entries: 3, ticks: 1, loads: 2, id: 1 }), JSON.stringify(a.last()));
  });
}

// ---------------------------------------------------------------- timers
async function timers() {
  const b = build('clock');
  if (!b) return;
  const db = path.join(tmpdir('clockdb'), 'c.sqlite3');
  let srv = new Server(b.bin, b.dir, db);
  if (!check('clock: server starts', await srv.start(), srv.stderr)) return;
  const cs = [];
  try {
    const s = await newSession(srv.base, 2);
    if (!s) return;
    const [p1, p2] = s.participants;
    const a = new XClient(srv.base, p1.code); cs.push(a);
    await a.waitCount(1);
    check('clock: on load of the first arrival', eq(a.msgs[0].data, { loads: 1, arrived: 1, started: false, page: 'live' }), JSON.stringify(a.msgs));
    const a2 = new XClient(srv.base, p1.code, 1); cs.push(a2);
    await sleep(300);
    check('clock: a reconnection with Last-Event-ID does not run on load', a2.opened && a2.msgs.length === 0 && a.msgs.length === 1, JSON.stringify(a2.msgs));
    const a3 = new XClient(srv.base, p1.code); cs.push(a3);
    await a3.waitCount(1);
    check('clock: a second fresh tab runs on load again (loads 2, still one arrival), seen by every open stream',
      eq(a3.msgs[0].data, { loads: 2, arrived: 1, started: false, page: 'live' }) && a3.msgs[0].id === '2' && !!(await a.waitFor((x) => x.loads === 2)) && !!(await a2.waitFor((x) => x.loads === 2)), JSON.stringify(a3.msgs));
    const t0 = Date.now();
    const bb = new XClient(srv.base, p2.code); cs.push(bb);
    await bb.waitCount(1);
    check('clock: the last arrival\'s on load starts the round timer', eq(bb.msgs[0].data, { loads: 1, arrived: 2, started: true, page: 'live' }), JSON.stringify(bb.msgs));
    const ro = await a.waitFor((x) => x.round_over === 1, 3000);
    const el = Date.now() - t0;
    check('clock: a timer started in on load fires once, after its delay', ro && el >= 250, `${el} ms`);
    const fa = await a.waitFinish(); const fb = await bb.waitFinish();
    await a.waitFor((x) => x.after === 1); await bb.waitFor((x) => x.after === 1);
    await sleep(150);
    check('clock: finish in a timer handler: the timer\'s send, then event finish, then the send after finish, with consecutive ids',
      fa && fb && eq(a.all.slice(-3).map((x) => [x.kind, x.id]), [['message', 3], ['finish', 4], ['message', 5]]) &&
      eq(bb.all.map((x) => x.kind), ['message', 'message', 'finish', 'message']) && eq(bb.ids(), [1, 2, 3, 4]) &&
      eq(a.all[a.all.length - 2].data, { next: `/p/${p1.code}` }), JSON.stringify([a.all.slice(-3), bb.all]));
    check('clock: the other tabs of player 1 got the same finish', a2.finishes.length === 1 && a3.finishes.length === 1 && a3.finishes[0].id === 4, JSON.stringify([a2.finishes, a3.finishes]));
    const b2 = new XClient(srv.base, p2.code); cs.push(b2);
    await b2.waitCount(1);
    check('clock: on load on the finished page: page "finished", the timer is not started again',
      eq(b2.msgs[0].data, { loads: 2, arrived: 2, started: true, page: 'finished' }) && b2.msgs[0].id === '5', JSON.stringify(b2.msgs));
    await sleep(500);
    check('clock: the round timer fired only once', a.msgs.filter((m) => m.data.round_over).length === 1, '');
    // timers after finish: handlers still take messages
    let r = await post(a, { type: 'go', ms: 0 });
    check('clock: after 0 fires', r.status === 200 && !!(await bb.waitFor((x) => x.ping === 1, 2000)), r.text);
    r = await post(a, { type: 'twice' });
    const tb = await bb.waitFor((x) => x.t === 'b', 2000);
    const ta = bb.msgs.findIndex((m) => m.data.t === 'a'); const tbi = bb.msgs.findIndex((m) => m.data.t === 'b');
    check('clock: two timers armed in one handler fire in due order (a at 100 ms before b at 200 ms)', tb && ta >= 0 && ta < tbi && tb.seq === 'pab', JSON.stringify(bb.datas()));
    r = await post(a, { type: 'startstop' });
    await sleep(350);
    r = await post(a, { type: 'peek' });
    const pk = await a.waitFor((x) => x.ticks !== undefined && x.rounds !== undefined);
    check('clock: start then stop in one handler: never fires', pk && pk.ticks === 1 && !bb.msgs.some((m) => m.data.ping === 2), JSON.stringify(pk));
    r = await post(a, { type: 'stopstart' });
    check('clock: stop then start in one handler: fires', !!(await bb.waitFor((x) => x.ping === 2, 2000)), JSON.stringify(bb.datas().slice(-2)));
    r = await post(a, { type: 'go', ms: 200 });
    const r2 = await post(a, { type: 'halt' });
    await sleep(450);
    check('clock: stop timer disarms; stopping a timer that is not armed is fine', r2.status === 200 && !bb.msgs.some((m) => m.data.ping === 3), JSON.stringify(bb.datas().slice(-2)));
    r = await post(a, { type: 'relay', n: 3 });
    await bb.waitFor((x) => x.hop === 3, 3000);
    await sleep(300);
    check('clock: a timer handler re-arms itself n times, then stops (it shares group.ticks with ping)', eq(bb.datas().filter((x) => x.hop !== undefined).map((x) => x.hop), [1, 2, 3]), JSON.stringify(bb.datas().slice(-4)));
    // a timer survives a clean restart
    const lastId = a.msgs[a.msgs.length - 1].id;
    r = await post(a, { type: 'go', ms: 1200 });
    cs.forEach((x) => x.close()); cs.length = 0;
    check('clock: SIGTERM with an armed timer exits 0', (await srv.stop()).code === 0);
    srv = new Server(b.bin, b.dir, db);
    if (!check('clock: restarts on the same database', await srv.start(), srv.stderr)) return;
    const ar = new XClient(srv.base, p1.code, lastId); cs.push(ar);
    const pg = await ar.waitFor((x) => x.ping !== undefined, 4000);
    check('clock: a timer armed before a restart fires after it, with the next id and no on load',
      pg && pg.ping === 4 && ar.msgs.length === 1 && ar.msgs[0].id === String(Number(lastId) + 1), JSON.stringify(ar.msgs));
  } catch (e) {
    check('clock: scenario ran without exception', false, e.stack);
  } finally {
    cs.forEach((x) => x.close());
    const st = await srv.stop();
    check('clock: SIGTERM exits 0', st && st.code === 0, JSON.stringify(st));
  }
}

// ---------------------------------------------------------------- validation and numbers
async function numbers() {
  await withSrv('nums', async (srv, cs) => {
    const g = await group(srv, cs, 2, 0);
    if (!g) return;
    const [a] = g.cl;
    const raw = await rawStream(srv.base, g.s.participants[0].code, { 'Last-Event-ID': '0' });
    const accept = [
      ['int at 2^63-1', { type: 'ii', x: '9223372036854775807' }, '{"x":9223372036854775807,"sx":"9223372036854775807"}'],
      ['int at -2^63', { type: 'ii', x: '-9223372036854775808' }, '{"x":-9223372036854775808,"sx":"-9223372036854775808"}'],
      ['int written 1e2', { type: 'ii', x: '1e2' }, '{"x":100,"sx":"100"}'],
      ['int written -0.0', { type: 'ii', x: '-0.0' }, '{"x":0,"sx":"0"}'],
      ['float written as a 21-digit integer', { type: 'fi', x: '100000000000000000000' }, null],
      ['float 1', { type: 'fi', x: '1' }, '{"x":1.0,"sx":"1.0"}'],
      ['int range low bound -5, float range low bound -1.5', { type: 'rng', a: '-5', b: '-1.5' }, '{"a":-5,"b":-1.5}'],
      ['int range high bound 5.0, float range 2 (int JSON)', { type: 'rng', a: '5.0', b: '2' }, '{"a":5,"b":2.0}'],
      ['string choice with a quote, int choice 2^63-1', { type: 'ch', c: '"a\\"b"', n: '9223372036854775807' }, '{"c":"a\\"b","n":9223372036854775807,"len":3}'],
      ['string choice written with \\u escape', { type: 'ch', c: '"\\u00e9"' }, '{"c":"é","n":0,"len":1}'],
      ['int choice written -1.0', { type: 'ch', c: '""', n: '-1.0' }, '{"c":"","n":-1,"len":0}'],
      ['max 3: three two-byte characters', { type: 'mx', t: '"ééé"' }, '{"t":"ééé","lt":3}'],
      ['defaults of int, bool, float', { type: 'opt' }, '{"o":7,"p":true,"q":0.5}'],
      ['an optional float given an int', { type: 'opt', q: '1' }, '{"o":7,"p":true,"q":1.0}'],
    ];
    const body = (o) => '{' + Object.entries(o).map(([k, v]) => `"${k}":${k === 'type' ? JSON.stringify(v) : v}`).join(',') + '}';
    let n = 0;
    for (const [name, o, want] of accept) {
      const r = await http(srv.base, 'POST', `/p/${a.code}/live`, body(o));
      n++;
      const got = (await raw.waitFor(new RegExp(`^id: ?${n}$`, 'm'))) && raw.datas()[n - 1];
      check(`numbers: ${name} is accepted${want ? ` and echoed as ${want}` : ''}`, r.status === 200 && (!want || got === want), `${r.status} ${r.text} ${got}`);
    }
    const reject = [
      ['int 2^63', { type: 'ii', x: '9223372036854775808' }, /\bx\b/],
      ['int -2^63-1', { type: 'ii', x: '-9223372036854775809' }, /\bx\b/],
      ['int 9223372036854775807.0 (2^63 as a double)', { type: 'ii', x: '9223372036854775807.0' }, /\bx\b/],
      ['int 1e400', { type: 'ii', x: '1e400' }, /\bx\b/],
      ['int range -6', { type: 'rng', a: '-6', b: '0' }, /\ba\b/],
      ['float range 2.5000001', { type: 'rng', a: '0', b: '2.5000001' }, /\bb\b/],
      ['float range -1.50000001', { type: 'rng', a: '0', b: '-1.50000001' }, /\bb\b/],
      ['string choice that is é decomposed', { type: 'ch', c: '"e\\u0301"' }, /\bc\b/],
      ['int choice 1', { type: 'ch', c: '""', n: '1' }, /\bn\b/],
      ['null for a required string', { type: 'ch', c: 'null' }, /\bc\b/],
      ['null for an optional int', { type: 'opt', o: 'null' }, /\bo\b/],
      ['max 3: four characters', { type: 'mx', t: '"éééé"' }, /\bt\b/],
      ['bool 0', { type: 'opt', p: '0' }, /\bp\b/],
      ['array for an int', { type: 'opt', o: '[1]' }, /\bo\b/],
      ['object for an int', { type: 'opt', o: '{}' }, /\bo\b/],
      ['string "1" for a float', { type: 'fi', x: '"1"' }, /\bx\b/],
    ];
    for (const [name, o, re] of reject) {
      const r = await http(srv.base, 'POST', `/p/${a.code}/live`, body(o));
      check(`numbers: ${name} is 422 naming the field`, hasError(r, 422, re), `${r.status} ${r.text}`);
    }
    await sleep(200);
    check('numbers: rejected messages sent nothing', raw.datas().length === accept.length, JSON.stringify(raw.datas().slice(accept.length)));
    // formatting of every type
    let r = await a.send({ type: 'fmt' });
    await raw.waitFor(new RegExp(`^id: ?${n + 1}$`, 'm'));
    const f = raw.datas()[n] || '';
    let fj = null; try { fj = JSON.parse(f); } catch (e) { /* */ }
    check('numbers: the fmt event is one line of valid JSON', !!fj, f);
    if (fj) {
      check('numbers: floats are JSON numbers of the same value (1.0, 0.1, 1/3, 1e21, 1e300, 1e-7, 0.5)',
        fj.one === 1 && fj.tenth === 0.1 && fj.third === 1 / 3 && fj.e21 === 1e21 && fj.e300 === 1e300 && fj.tiny === 1e-7 && fj.half === 0.5, f);
      check('numbers: -0.0 is a JSON number that reads back as negative zero', Object.is(fj.negz, -0) && Object.is(fj.negz2, -0), f);
      check('numbers: the int extremes are exact on the wire', /"big":9223372036854775807[,}]/.test(f) && /"small":-9223372036854775808[,}]/.test(f), f);
      check('numbers: str() of floats and ints', fj.s1 === '1.0' && fj.s2 === '-0.0' && fj.s4 === '0.30000000000000004' && fj.s5 === '-9223372036854775808' && fj.s7 === '100000.0', f);
      check('numbers: unicode and escapes from the source survive into the event', fj.u === 'éé中\t\n"\\/\u0001\u007f\u2028' && fj.e === '', JSON.stringify(fj.u));
      check('numbers: the data line has no raw control characters', !/[\u0000-\u001f]/.test(f), JSON.stringify(f));
    }
    const ov = [
      [1, /overflow/, null], [2, null, { v: 0 }], [3, /overflow/, null], [4, /overflow/, null], [5, /overflow/, null],
      [6, /range|overflow/, null], [7, null, { v: -9223372036854775808 }], [8, null, { v: 1, w: -3, z: -3 }], [9, /overflow/, null], [10, /overflow/, null], [11, /overflow/, null],
      [12, /./, null], [13, /modulo|zero/, null], [14, /./, null],
    ];
    const names = { 1: 'INT_MIN / -1', 2: 'INT_MIN % -1', 3: 'abs(INT_MIN)', 4: '-x of INT_MIN', 5: 'BIG * 2', 6: 'int(2^63 as float)', 7: 'int(-2^63 as float)', 8: '7 % -3, -7 / 2, 7 / -2', 9: 'BIG += 1', 10: '-BIG -= 2', 11: '3037000500 *= itself', 12: '1.0 / 0.0', 13: '5 % 0', 14: '1e308 + 1e308' };
    for (const [k, re, want] of ov) {
      const before = a.msgs.length;
      r = await a.send({ type: 'ov', k });
      if (re) check(`numbers: ${names[k]} is a runtime error (422)`, hasError(r, 422, re), r.text);
      else {
        await a.waitCount(before + 1);
        check(`numbers: ${names[k]} gives ${JSON.stringify(want)}`, r.status === 200 && eq(a.last(), want), `${r.text} ${JSON.stringify(a.last())}`);
      }
    }
    raw.close();
  });
  await withSrv('edge', async (srv, cs) => {
    const g = await group(srv, cs, 2, 0);
    if (!g) return;
    const [a] = g.cl;
    const want = [{ c: 2 }, { c: 2 }, { c: 1 }, { c: 0 }];
    for (let k = 0; k < 4; k++) {
      const r = await a.send({ type: 'loops', k });
      await a.waitCount(k + 1);
      check(`edge: for i in A..B at the int64 edges (case ${k}) runs ${want[k].c} rounds`, r.status === 200 && eq(a.last(), want[k]), `${r.text} ${JSON.stringify(a.last())}`);
    }
    let r = await a.send({ type: 'rnd', k: 3 });
    await a.waitCount(5);
    check('edge: random(BIG, BIG) and random(MIN, MIN)', eq(a.last(), { r: 9223372036854775807, s: -9223372036854775808 }), JSON.stringify(a.last()));
    r = await a.send({ type: 'rnd', k: 0 });
    await a.waitCount(6);
    check('edge: random over the whole int64 range is an int', r.status === 200 && Number.isInteger(a.last().r), r.text);
    r = await a.send({ type: 'ops' });
    await a.waitCount(7);
    check('edge: float += int, *= int, -= float; string += string; string < string', eq(a.last(), { f: 1.5, log: 'abc', lt: true, arr: [1, 2.5] }), JSON.stringify(a.last()));
  });
  await withSrv('sh', async (srv, cs) => {
    const g = await group(srv, cs, 1, 0);
    if (!g) return;
    const [a] = g.cl;
    const r = await a.send({ type: 'm' });
    await a.waitCount(2);
    await sleep(150);
    check('shadow: columns shadow a const, a fn parameter and a local inside where; players 1: others is nobody, all is me',
      r.status === 200 && eq(a.datas(), [{ c1: 1, c2: 1, c3: 2, c4: 7, rows: [{ id: 2, who: 7, amount: 2 }, { id: 1, who: 1, amount: 1 }] }, { y: 1 }]), JSON.stringify(a.datas()));
  });
}

// ---------------------------------------------------------------- misc: on start sends, spread, arrays
async function misc() {
  await withSrv('misc', async (srv, cs) => {
    const s = await newSession(srv.base, 2);
    if (!s) return;
    const [p1, p2] = s.participants;
    const a = new XClient(srv.base, p1.code, 0); cs.push(a);
    const b = new XClient(srv.base, p2.code); cs.push(b);
    await a.waitCount(1); await b.waitCount(1);
    await sleep(200);
    check('misc: a send in on start is numbered 1 and replayed with Last-Event-ID 0, without on load',
      a.msgs.length === 1 && a.msgs[0].id === '1' && eq(a.msgs[0].data, { hello: 'héllo "w"\\', born: 1 }), JSON.stringify(a.msgs));
    check('misc: a fresh stream does not get on start\'s message; its on load takes id 2',
      b.msgs.length === 1 && b.msgs[0].id === '2' && eq(b.msgs[0].data, { loaded: 2, born: 1 }), JSON.stringify(b.msgs));
    const raw = await rawStream(srv.base, p1.code, { 'Last-Event-ID': '1' });
    let r = await a.send({ type: 'spread' });
    await a.waitCount(4);
    check('misc: spread: later keys win, both ways', eq(a.msgs[1].data, { n: 1, k: 'view', arr: [1, 2, 3], after: 1 }) && eq(a.msgs[2].data, { n: 2, arr: [1, 2, 3], k: 'lit2' }), JSON.stringify(a.datas()));
    await raw.waitFor(/^id: ?4$/m);
    const lines = raw.datas();
    const dupKeys = (t) => { const ks = []; const re = /"([a-z_]+)":/g; let m; while ((m = re.exec(t))) ks.push(m[1]); return ks; };
    check('misc: no duplicate keys on the wire after a spread', lines.length >= 2 && new Set(dupKeys(lines[0])).size === dupKeys(lines[0]).length && new Set(dupKeys(lines[1])).size === dupKeys(lines[1]).length, JSON.stringify(lines));
    check('misc: nested objects and arrays, an empty array, a view as a value', eq(a.msgs[3].data, { a: { b: [{ c: 1 }, { c: [true, false] }] }, e: [], z: { n: 1, arr: [1, 2, 3], k: 'view' } }), JSON.stringify(a.msgs[3]));
    raw.close();
    r = await a.send({ type: 'arrays', i: 1 });
    await a.waitCount(5);
    check('misc: arrays are values: a local copy changes alone; arrays of every type in events',
      eq(a.last(), { a: [100, 2, 3], arr: [1, 102, 3], hist: [0, 1], fl: [0.5, 2], names: ['a', 'é'], flags: [false, false] }), JSON.stringify(a.last()));
    r = await a.send({ type: 'arrays', i: 2 });
    check('misc: index out of bounds on a player array after other changes is 422', hasError(r, 422, /out of bounds|index/), r.text);
    r = await a.send({ type: 'kinds' });
    await a.waitCount(6);
    check('misc: every kind of value', eq(a.last(), { i: -42, f: 3.25, f2: 7, f3: 3.5, neg: -0.5, b: true, s: 'héllo "w"\\', cat: 'x1.5true-3', len: 2, tern: 1, mn: 1, mx: -1.5, ab: 2.5 }), JSON.stringify(a.last()));
    r = await a.send({ type: 'long', s: 'é'.repeat(2000) });
    await a.waitCount(7);
    check('misc: an explicit max 2000 lifts the implicit max 1000', r.status === 200 && eq(a.last(), { len: 2000 }), r.text);
    r = await a.send({ type: 'long', s: 'x'.repeat(2001) });
    check('misc: max 2000 rejects 2001', hasError(r, 422, /\bs\b/), r.text);
    r = await a.send({ type: 'hit', to: 2, i: 1 });
    await b.waitFor((x) => x.hist);
    check('misc: player(E).arr[i] += 1 changes that player; all hear it', r.status === 200 && eq(b.last(), { hist: [0, 1] }), JSON.stringify(b.last()));
    r = await a.send({ type: 'hit', to: 3, i: 1 });
    check('misc: player(3) in a group of 2 is 422', hasError(r, 422), r.text);
    const st = await http(srv.base, 'GET', `/api/sessions/${s.code}`, undefined, AUTH);
    const gr = st.json && st.json.groups[0];
    check('misc: admin state: arrays of every type as JSON arrays; rejections left nothing',
      gr && eq(gr.fields, { arr: [1, 102, 3], fl: [0.5, 2], names: ['a', 'é'], flags: [false, false], born: 1 }) && eq(gr.players.map((p) => p.fields.hist), [[0, 1], [0, 1]]), JSON.stringify(gr));
  });
}

// ---------------------------------------------------------------- pages and finish
async function pages() {
  await withSrv('paged3', async (srv, cs) => {
    const g = await group(srv, cs, 2);
    if (!g) return;
    const [a, b] = g.cl;
    const next = (c) => fetch(`${srv.base}/p/${c.code}/next`, { method: 'POST', redirect: 'manual' });
    await next(a); await next(a);
    let r = await a.send({ type: 'pages' });
    await a.waitCount(2);
    check('pages: Next twice moves one player to the third page', eq(a.last(), { pages: ['three', 'one'], mine: 'three' }), JSON.stringify(a.last()));
    r = await a.send({ type: 'fin' });
    await a.waitFinish(); await b.waitFinish();
    await a.waitCount(3); await b.waitCount(2);
    check('pages: finish moves each player from its own page (three -> finished, one -> two)',
      eq(a.last(), { moved: 1, mine: 'finished' }) && eq(b.last(), { moved: 1, mine: 'finished' }) &&
      eq(a.all.slice(1).map((x) => x.kind), ['message', 'finish', 'message']) && eq(b.all.slice(1).map((x) => x.kind), ['finish', 'message']), JSON.stringify([a.all, b.all]));
    const na = a.all.length;
    r = await a.send({ type: 'fin' });
    await b.waitFor((x) => x.moved === 2);
    await sleep(150);
    check('pages: a finish that leaves a finished player where it is sends that player no finish event',
      eq(a.all.slice(na).map((x) => x.kind), ['message']) && b.finishes.length === 2, JSON.stringify([a.all.slice(na), b.finishes]));
    r = await b.send({ type: 'fin' }); r = await b.send({ type: 'fin' });
    await b.waitFor((x) => x.moved === 4);
    await sleep(150);
    check('pages: the group ends on finished; finish there does nothing more', b.finishes.length === 3 && a.finishes.length === 1, JSON.stringify(b.finishes));
    const c = new XClient(srv.base, b.code); cs.push(c);
    await c.waitCount(1);
    check('pages: on load runs on the finished page too', eq(c.msgs[0].data, { page: 'finished', loads: 2 }), JSON.stringify(c.msgs));
    check('pages: every id is used once per participant', eq(b.ids(), b.ids().map((_, i) => i + 1)) && eq(a.ids(), a.ids().map((_, i) => i + 1)), JSON.stringify([a.ids(), b.ids()]));
  });
}

// ---------------------------------------------------------------- concurrency and groups
async function concurrency() {
  await withSrv('sends', async (srv, cs) => {
    const r = await http(srv.base, 'POST', '/api/sessions', { participants: 6 }, AUTH);
    const P = r.json ? r.json.participants : [];
    check('groups: 6 players of a 3-player game form groups 1,1,1,2,2,2 with ids 1,2,3,1,2,3',
      r.status === 201 && eq(P.map((p) => [p.group, p.id_in_group]), [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]]), r.text.slice(0, 300));
    const cl = P.slice(0, 3).map((p) => new XClient(srv.base, p.code)); cs.push(...cl);
    const other = new XClient(srv.base, P[3].code); cs.push(other);
    await Promise.all([...cl, other].map((c) => c.waitCount(1)));
    const N = 20;
    const res = await Promise.all(cl.flatMap((c, i) => Array.from({ length: N }, () => c.send({ type: 'mix', to: ((i + 1) % 3) + 1 }))));
    check('concurrency: 60 concurrent handlers of one group all answer 200', res.every((x) => x.status === 200), JSON.stringify(res.filter((x) => x.status !== 200).slice(0, 2)));
    await Promise.all(cl.map((c) => c.waitFor((d) => d.n === 3 * N, 8000)));
    await sleep(200);
    const seq = (c) => c.datas(1).filter((d) => d.k === 'all2').map((d) => d.n);
    const order = (c) => c.datas(1).filter((d) => d.k === 'all1' || d.k === 'all2').map((d) => d.k + (d.from || d.n));
    check('concurrency: every player sees n = 1..60 in order (handlers never interleave)', cl.every((c) => eq(seq(c), Array.from({ length: 3 * N }, (_, i) => i + 1))), JSON.stringify(seq(cl[0]).slice(0, 10)));
    check('concurrency: every player sees the `send all`s in the same order', eq(order(cl[0]), order(cl[1])) && eq(order(cl[1]), order(cl[2])), '');
    check('concurrency: each handler\'s sends stay together: all1 then all2 for one handler', cl.every((c) => {
      const ks = c.datas(1).filter((d) => d.k === 'all1' || d.k === 'all2').map((d) => d.k);
      return ks.every((k, i) => k === (i % 2 === 0 ? 'all1' : 'all2'));
    }), '');
    check('concurrency: ids are 1..n without gaps under load', cl.every((c) => eq(c.ids(), c.ids().map((_, i) => i + 1))), JSON.stringify(cl.map((c) => c.ids().length)));
    check('concurrency: the other group heard nothing', other.msgs.length === 1, JSON.stringify(other.msgs));
    // fresh tabs opened while messages are flowing: after its on load, a tab misses nothing
    let stop = false;
    const pump = (async () => { let i = 0; while (!stop) { await cl[1].send({ type: 'mix', to: 1 }); if (++i > 400) break; } })();
    const tabs = [];
    for (let i = 0; i < 6; i++) { const t = new XClient(srv.base, P[0].code); cs.push(t); tabs.push(t); await sleep(60); }
    await sleep(300);
    stop = true; await pump;
    await sleep(300);
    const src = cl[0];
    const byId = new Map(src.msgs.map((m) => [m.id, JSON.stringify(m.data)]));
    check('concurrency: each fresh tab starts with its own on load and then receives every later message, same ids and data as the first tab',
      tabs.every((t) => {
        const li = t.msgs.findIndex((m) => m.data.loads !== undefined && m.data.id === 1);
        if (li < 0) return false;
        const after = t.msgs.slice(li);
        const ids = after.map((m) => Number(m.id));
        const contiguous = ids.every((v, j) => j === 0 || v === ids[j - 1] + 1);
        const last = Number(src.msgs[src.msgs.length - 1].id);
        return contiguous && ids[ids.length - 1] === last && after.every((m) => byId.get(m.id) === JSON.stringify(m.data));
      }), JSON.stringify(tabs.map((t) => t.msgs.slice(0, 3).map((m) => [m.id, m.data]))));
  });
}

// ---------------------------------------------------------------- on load that rejects or finishes
async function onload() {
  await withSrv('loadrej', async (srv, cs) => {
    const s = await newSession(srv.base, 2);
    if (!s) return;
    const [p1, p2] = s.participants;
    const b = new XClient(srv.base, p2.code); cs.push(b);
    await b.waitCount(1);
    const a = new XClient(srv.base, p1.code); cs.push(a);
    await a.waitCount(1);
    check('onload: a `send all` in on load reaches players without a stream; it takes their id 1, so the later fresh stream starts at id 2',
      eq(b.msgs[0].data, { load_by: 2, n: 1 }) && a.msgs[0].id === '2' && eq(a.msgs[0].data, { load_by: 1, n: 2 }) && !!(await b.waitFor((x) => x.load_by === 1)), JSON.stringify([a.msgs, b.msgs]));
    const a2 = new XClient(srv.base, p1.code); cs.push(a2);
    await sleep(400);
    check('onload: on load rejected on a fresh stream: the stream opens, nothing is sent, nothing changes', a2.opened && a2.msgs.length === 0 && a.msgs.length === 1 && b.msgs.length === 2, JSON.stringify([a2.msgs, b.msgs]));
    let r = await a.send({ type: 'bump' });
    await a.waitCount(2);
    check('onload: after the refused load the state is as before and the next id is 3', eq(a.last(), { n: 2, loads: 1 }) && a.msgs[1].id === '3', JSON.stringify(a.msgs));
    const nb = b.msgs.length;
    r = await a.send({});
    check('onload: liveSend({}) whose on load rejects (after its send all) is 422 with the reason', hasError(r, 422, /^second load refused$/), r.text);
    await sleep(200);
    check('onload: ... and its send all reached nobody', a.msgs.length === 2 && b.msgs.length === nb, JSON.stringify([a.msgs.slice(2), b.msgs.slice(nb)]));
  });
}

runGroups({ tables, sends, timers, numbers, misc, pages, concurrency, onload });
