// tenmessages.js -- end-to-end test of games/tenmessages.live ("ten
// messages, then everyone moves on") with three players: each message
// reaches the whole group with the counts, refusals (empty, too long,
// missing text, after the tenth), nothing finishes before the tenth, a
// fresh stream gets the player's own count, the tenth message finishes the
// page for all three, and the admin API shows who sent how many.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/tenmessages.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError } = G;

async function main() {
  const game = await G.startGame('tenmessages', 3);
  if (!game) return;
  const { base, players } = game;
  const [p1, p2, p3] = players;
  check('on load sends the empty allowance to every player',
    players.every((p) => eq(p.first.data, { sent: 0, limit: 10, left: 10, my_sent: 0 })),
    JSON.stringify(players.map((p) => p.first)));
  let r = await G.http(base, 'GET', `/p/${p3.code}`);
  check('the page is games/tenmessages.html with its placeholders filled',
    r.status === 200 && /id="msgs"/.test(r.text) && /Ten messages/.test(r.text) && !/\{\{/.test(r.text) &&
    /Number\('3'\)/.test(r.text), `${r.status} ${r.text.slice(0, 200)}`);

  r = await p1.send('say', { text: '' });
  check('an empty message is 422 "say something"', isError(r, 422, /say something/), `${r.status} ${r.text}`);
  r = await p1.send('say', { text: 'x'.repeat(201) });
  check('a message of 201 characters is 422 naming the field text', isError(r, 422, /text/), `${r.status} ${r.text}`);
  r = await p1.send('say', {});
  check('a message without text is 422 naming the field text', isError(r, 422, /text/), `${r.status} ${r.text}`);

  r = await p1.send('say', { text: 'hello' });
  check('player 1 says hello (200)', r.status === 200 && r.json && r.json.ok === true, `${r.status} ${r.text}`);
  const want = { sent: 1, limit: 10, left: 9, from: 1, from_sent: 1, text: 'hello' };
  const heard = [];
  for (const p of players) heard.push(await p.stream.waitFor((d) => d.sent === 1));
  check('all three hear it with the counts', heard.every((e) => e && eq(e.data, want)), JSON.stringify(heard));

  const tricky = 'ünï "quoted" <b>not bold</b> \\ 🎲';
  r = await p2.send('say', { text: tricky });
  const t = await p3.stream.waitFor((d) => d.sent === 2);
  check('text with unicode, quotes and markup arrives unchanged',
    r.status === 200 && t && t.data.text === tricky && t.data.from === 2, JSON.stringify(t));

  // messages 3..9: p3, p1, p1, p3, p2, p1, p3
  const order = [p3, p1, p1, p3, p2, p1, p3];
  let ok = true;
  for (const [i, p] of order.entries()) {
    r = await p.send('say', { text: `message ${i + 3}` });
    if (r.status !== 200) { ok = false; break; }
  }
  check('messages 3 to 9 from all three players are accepted', ok, `${r.status} ${r.text}`);
  const ninth = await p2.stream.waitFor((d) => d.sent === 9);
  check('the ninth message: 1 left, player 3 has sent 3',
    ninth && ninth.data.left === 1 && ninth.data.from === 3 && ninth.data.from_sent === 3, JSON.stringify(ninth));
  check('nothing finished before the tenth message', await G.noneFinished(players),
    JSON.stringify(p1.stream.events.slice(-2)));

  p1.stream.close();
  await G.connect(base, p1);
  check("a fresh stream of player 1 gets the group's and its own counts",
    p1.first && eq(p1.first.data, { sent: 9, limit: 10, left: 1, my_sent: 4 }), JSON.stringify(p1.first));

  r = await p2.send('say', { text: 'the last word' });
  check('player 2 sends the tenth message (200)', r.status === 200, `${r.status} ${r.text}`);
  const tenth = await p1.stream.waitFor((d) => d.sent === 10);
  check('everybody hears the tenth: 0 left', tenth && tenth.data.left === 0 && tenth.data.text === 'the last word',
    JSON.stringify(tenth));
  check('the tenth message finishes the page for all three', await G.allFinished(players),
    JSON.stringify(players.map((p) => p.stream.events.slice(-1))));
  r = await p3.send('say', { text: 'one more?' });
  check('an eleventh message is 422 "the group has sent its 10 messages"',
    isError(r, 422, /has sent its 10 messages/), `${r.status} ${r.text}`);
  check('event ids on each stream are consecutive',
    G.consecutive(p2.stream.ids(), 1) && G.consecutive(p3.stream.ids(), 1),
    JSON.stringify([p2.stream.ids(), p3.stream.ids()]));

  const st = await G.sessionState(base, game.session.code);
  const g = st && st.groups[0];
  const sent = g && g.players.slice().sort((a, b) => a.id_in_group - b.id_in_group).map((p) => p.fields.sent);
  check('the admin API shows 10 for the group and 4, 3, 3 for the players',
    g && g.fields.sent === 10 && eq(sent, [4, 3, 3]), JSON.stringify(st));
  G.closeAll(players);
}

G.run(main);
