// chat.js -- end-to-end test of games/chat.live (a group chat whose history
// is the table `line`), with HISTORY shortened to 3 lines: lines reach the
// whole group with their row id; refusals (empty, too long, taking back a
// line that is not yours or does not exist); a fresh stream gets the
// history again, in order, without deleted lines and only the last
// HISTORY of them; ids are never reused; the table survives kill -9, shows
// in the admin API and exports as CSV; Leave (Next) ends the page.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/chat.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError } = G;

const ids = (e) => (e && Array.isArray(e.data.history) ? e.data.history.map((l) => l.id) : null);

async function main() {
  const game = await G.startGame('chat', 3, { patch: { HISTORY: '3' } });
  if (!game) return;
  const { players } = game;
  const [p1, p2, p3] = players;
  check('on load sends an empty history to everybody',
    players.every((p) => eq(p.first.data, { history: [] })), JSON.stringify(players.map((p) => p.first)));
  let r = await G.http(game.base, 'GET', `/p/${p1.code}`);
  check('the page is games/chat.html with its placeholders filled',
    r.status === 200 && /id="lines"/.test(r.text) && /Group chat/.test(r.text) && !/\{\{/.test(r.text) &&
    r.text.includes(`action="/p/${p1.code}/next"`), `${r.status} ${r.text.slice(0, 200)}`);

  r = await p1.send('say', { text: '' });
  check('an empty line is 422 "say something"', isError(r, 422, /say something/), `${r.status} ${r.text}`);
  r = await p1.send('say', { text: 'y'.repeat(501) });
  check('a line of 501 characters is 422 naming the field text', isError(r, 422, /text/), `${r.status} ${r.text}`);

  const t0 = Date.now();
  r = await p1.send('say', { text: 'hi all' });
  check('player 1 says "hi all" (200)', r.status === 200 && r.json && r.json.ok === true, `${r.status} ${r.text}`);
  const heard = [];
  for (const p of players) heard.push(await p.stream.waitFor((d) => d.line && d.line.id === 1));
  check('everybody hears the line with its row id 1, sender and time',
    heard.every((e) => e && e.data.line.sender === 1 && e.data.line.text === 'hi all' &&
      Math.abs(e.data.line.at - t0) < 5000 && eq(e.data, heard[0].data)), JSON.stringify(heard));
  const uni = 'ça va? 👋 <i>"ok"</i>';
  r = await p2.send('say', { text: uni });
  check('player 2 answers (200)', r.status === 200, `${r.status} ${r.text}`);
  r = await p3.send('say', { text: 'third' });
  check('player 3 answers (200)', r.status === 200, `${r.status} ${r.text}`);
  await p1.stream.waitFor((d) => d.line && d.line.id === 3);

  p3.stream.close();
  await G.connect(game.base, p3);
  const h = p3.first && p3.first.data.history;
  check('a fresh stream gets the history again, in order, each line as its row',
    h && eq(ids(p3.first), [1, 2, 3]) && h[1].text === uni && h[1].sender === 2 && h[2].sender === 3 &&
    h.every((l) => typeof l.at === 'number'), JSON.stringify(p3.first));

  r = await p2.send('unsay', { id: 1 });
  check("taking back someone else's line is 422 \"you can only take back your own lines\"",
    isError(r, 422, /only take back your own lines/), `${r.status} ${r.text}`);
  r = await p1.send('unsay', { id: 99 });
  check('taking back a line that does not exist is 422 "there is no such line"',
    isError(r, 422, /no such line/), `${r.status} ${r.text}`);
  r = await p1.send('unsay', { id: 'one' });
  check('an id that is not an integer is 422 naming the field id', isError(r, 422, /id/), `${r.status} ${r.text}`);
  r = await p1.send('unsay', { id: 1 });
  check('player 1 takes back her line (200)', r.status === 200, `${r.status} ${r.text}`);
  const del = await p2.stream.waitFor((d) => d.deleted === 1);
  check('everybody hears {deleted: 1}', del && eq(del.data, { deleted: 1 }), JSON.stringify(del));
  r = await p1.send('unsay', { id: 1 });
  check('taking it back twice is 422 "there is no such line"', isError(r, 422, /no such line/),
    `${r.status} ${r.text}`);

  r = await p1.send('say', { text: 'fourth' });
  const fourth = await p3.stream.waitFor((d) => d.line && d.line.text === 'fourth');
  check('the next line gets id 4: ids are not reused after a delete', r.status === 200 && fourth &&
    fourth.data.line.id === 4, JSON.stringify(fourth));

  // ---- the table outlives the server ---------------------------------------
  if (!await game.restart('SIGKILL')) return;
  await G.connect(game.base, p2);
  check('after kill -9 the history is still there, without the deleted line',
    eq(ids(p2.first), [2, 3, 4]), JSON.stringify(p2.first));
  for (const t of ['five', 'six']) r = await p3.send('say', { text: t });
  check('the chat goes on after the restart (200)', r.status === 200, `${r.status} ${r.text}`);
  await p2.stream.waitFor((d) => d.line && d.line.id === 6);
  p2.stream.close();
  await G.connect(game.base, p2);
  check('on load sends only the last 3 lines (HISTORY)', eq(ids(p2.first), [4, 5, 6]), JSON.stringify(p2.first));

  const st = await G.sessionState(game.base, game.session.code);
  const rows = st && st.groups[0] && st.groups[0].tables && st.groups[0].tables.line;
  check('the admin API lists the 5 rows of table line', Array.isArray(rows) &&
    eq(rows.map((x) => x.id), [2, 3, 4, 5, 6]) && rows[0].text === uni, JSON.stringify(st));
  r = await G.http(game.base, 'GET', `/api/sessions/${game.session.code}/export/line.csv`, undefined, G.admin);
  const csv = r.text.trim().split(/\r?\n/);
  check('the table exports as CSV: a header and 5 rows', r.status === 200 && /sender/.test(csv[0]) &&
    /text/.test(csv[0]) && csv.length === 6 && /six/.test(csv[5]), `${r.status} ${r.text.slice(0, 300)}`);

  r = await G.http(game.base, 'POST', `/p/${p1.code}/next`);
  check('Leave (Next) is 303 to /p/P', r.status === 303, `${r.status} ${r.text}`);
  r = await G.http(game.base, 'GET', `/p/${p1.code}`);
  check('and player 1 is on the finished page', r.status === 200 && !/id="lines"/.test(r.text), r.text.slice(0, 200));
  G.closeAll(players);
}

G.run(main);
