// realeffort.js -- end-to-end test of games/realeffort.live ("count the
// zeros"), with DURATION shortened to 2.5 s: the group clock starts at the
// first arrival and is shared; each player gets a random string of 0s and
// 1s; right answers score and bring a new string, wrong ones count as
// mistakes and keep it; an answer out of range is refused; the deadline
// timer moves both players to the results page (scores, mistakes, ranks),
// after which answers are refused; Next leads to the finished page.
// Run by `make check` (games/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/games/realeffort.js
'use strict';
const G = require('./gamelib.js');
const { check, eq, isError } = G;

const DURATION_MS = 2500;
const LENGTH = 24;

const zerosOf = (s) => [...s].filter((c) => c === '0').length;
const isTask = (s) => typeof s === 'string' && s.length === LENGTH && /^[01]+$/.test(s);

/* Answers p's current task (`task`) right or wrong; resolves with the
 * answer event p hears, or undefined. */
async function answer(p, task, right) {
  const before = p.stream.messages().length;
  const zeros = right ? zerosOf(task) : (zerosOf(task) + 1) % (LENGTH + 1);
  const r = await p.send('answer', { zeros });
  if (r.status !== 200) return undefined;
  await p.stream.waitCount(before + 1);
  const m = p.stream.messages();
  return m.length > before ? m[m.length - 1] : undefined;
}

async function main() {
  const game = await G.startGame('realeffort', 2, { patch: { DURATION: `${DURATION_MS}ms` }, connect: false });
  if (!game) return;
  const { base, players } = game;
  const [p1, p2] = players;

  let r = await G.http(base, 'GET', `/p/${p1.code}`);
  check('the first page is games/realeffort.html on page task, placeholders filled',
    r.status === 200 && /var PAGE = 'task'/.test(r.text) && /Count the zeros/.test(r.text) &&
    !/\{\{/.test(r.text), `${r.status} ${r.text.slice(0, 200)}`);

  const t0 = Date.now();
  await G.connect(base, p1);
  await G.connect(base, p2);
  const w1 = p1.first && p1.first.data;
  const w2 = p2.first && p2.first.data;
  check('on load gives each player a string of 24 random 0s and 1s, score 0',
    w1 && w2 && w1.page === 'task' && isTask(w1.task) && isTask(w2.task) && w1.score === 0 &&
    w1.mistakes === 0 && w1.length === LENGTH && w1.zeros === undefined, JSON.stringify([w1, w2]));
  check('the two players have different strings', w1 && w2 && w1.task !== w2.task, JSON.stringify([w1, w2]));
  check('the clock started at the first arrival and is the same for both',
    w1 && w2 && w1.ends_at === w2.ends_at && Math.abs(w1.ends_at - (t0 + DURATION_MS)) < 1000,
    JSON.stringify({ t0, a: w1 && w1.ends_at, b: w2 && w2.ends_at }));
  if (!w1 || !w2) return;

  r = await p1.send('answer', { zeros: LENGTH + 1 });
  check('an answer over 24 is 422 naming the field zeros', isError(r, 422, /zeros/), `${r.status} ${r.text}`);
  r = await p1.send('answer', { zeros: -1 });
  check('a negative answer is 422 naming the field zeros', isError(r, 422, /zeros/), `${r.status} ${r.text}`);

  const wrong = await answer(p1, w1.task, false);
  check('a wrong answer: correct false, a mistake, the same string',
    wrong && wrong.data.correct === false && wrong.data.mistakes === 1 && wrong.data.score === 0 &&
    wrong.data.task === w1.task, JSON.stringify(wrong));
  const right1 = await answer(p1, w1.task, true);
  check('a right answer: correct true, a point, a new string',
    right1 && right1.data.correct === true && right1.data.score === 1 && right1.data.mistakes === 1 &&
    isTask(right1.data.task), JSON.stringify(right1));
  const right2 = right1 && await answer(p1, right1.data.task, true);
  check('another right answer on the new string: 2 points', right2 && right2.data.score === 2,
    JSON.stringify(right2));
  const other = await answer(p2, w2.task, true);
  check("player 2's score is her own: 1 point", other && other.data.score === 1 && other.data.mistakes === 0,
    JSON.stringify(other));
  check("answers are told to the player only (player 2 heard nothing of player 1's)",
    p2.stream.messages().length === 2, JSON.stringify(p2.stream.events));

  p1.stream.close();
  await G.connect(base, p1);
  check('a fresh stream gives back the current string and score',
    p1.first && right2 && p1.first.data.task === right2.data.task && p1.first.data.score === 2,
    JSON.stringify(p1.first));

  // ---- the deadline ----------------------------------------------------------
  const fin = await p1.stream.waitFor(() => true, DURATION_MS + G.WAIT_MS, 'finish');
  const tFin = Date.now();
  check('the deadline timer moves both players on (finish)', !!fin && await G.allFinished(players),
    JSON.stringify([p1.stream.events.slice(-1), p2.stream.events.slice(-1)]));
  check(`the deadline comes about ${DURATION_MS} ms after the first arrival`, tFin - t0 >= DURATION_MS - 150,
    `${tFin - t0} ms`);
  r = await p2.send('answer', { zeros: 3 });
  check('an answer after the deadline is 422 "the time is up"', isError(r, 422, /the time is up/),
    `${r.status} ${r.text}`);

  r = await G.http(base, 'GET', `/p/${p1.code}`);
  check('the next page is realeffort.html on page results',
    r.status === 200 && /var PAGE = 'results'/.test(r.text) && /action="\/p\/[^"]+\/next"/.test(r.text),
    `${r.status} ${r.text.slice(0, 200)}`);
  G.closeAll(players);
  await G.connect(base, p1);
  await G.connect(base, p2);
  check('the results: scores [2, 1], mistakes [1, 0], player 1 ranks first',
    p1.first && eq(p1.first.data, { page: 'results', scores: [2, 1], mistakes: [1, 0], rank: 1 }),
    JSON.stringify(p1.first));
  check('player 2 ranks second', p2.first && p2.first.data.rank === 2, JSON.stringify(p2.first));

  r = await G.http(base, 'POST', `/p/${p2.code}/next`);
  check('Next on the results page is 303 to /p/P', r.status === 303 &&
    (r.headers.get('location') || '').endsWith(`/p/${p2.code}`), `${r.status} ${r.headers.get('location')}`);
  r = await G.http(base, 'GET', `/p/${p2.code}`);
  check('and then the finished page', r.status === 200 && !/var PAGE/.test(r.text), r.text.slice(0, 200));

  const st = await G.sessionState(base, game.session.code);
  const g = st && st.groups[0];
  const tasks = g && g.players.slice().sort((a, b) => a.id_in_group - b.id_in_group).map((p) => p.fields.tasks);
  check('the admin API shows the time is up and 3 and 2 strings handed out',
    g && g.fields.over === true && eq(g.fields.scores, [2, 1]) && eq(tasks, [3, 2]), JSON.stringify(st));
  G.closeAll(players);
}

G.run(main);
