// e2e_counter.js -- end-to-end test of the protocol's edges on
// games/counter.live (a shared counter with messages `add {amount: int in
// 1..1000}` and `note {text: string max 50}`): the default live page and its
// page description, validation errors that name the field, malformed JSON,
// the 64 KiB limit, `send all` / `send others`, unicode, a message without
// type running `on load`, the admin API (password, session state, CSV
// export, the cookie login of /admin), and the Next button (303).
// Run by `make check` (tests/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec GAMES=/path/to/games node tests/e2e/e2e_counter.js
'use strict';
const {
  PW, admin, QUIET_MS, sleep, check, run, tmpdir, compile, Server, http, newSession,
  openStream, eq, isError, consecutive, parseCsv,
} = require('./lib.js');

/* Extracts and parses the JSON of <script type="application/json"
 * id="live-data"> from a page; null if absent or not JSON. */
function liveData(html) {
  const m = /<script type="application\/json" id="live-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) return null;
  try { return JSON.parse(m[1]); } catch (e) { return null; }
}

async function main() {
  const dir = tmpdir('counter');
  const bin = compile('counter', dir);
  if (!bin) return;
  const srv = new Server(bin, dir);
  if (!check('server starts and prints "listening on"', await srv.start(), srv.stderr)) return;
  const base = srv.base;

  // ---- admin API: the password --------------------------------------------
  let r = await http(base, 'POST', '/api/sessions', { participants: 2 });
  check('POST /api/sessions without the password is 401 JSON', isError(r, 401), `${r.status} ${r.text}`);
  r = await http(base, 'POST', '/api/sessions', { participants: 2 }, { Authorization: 'Bearer wrong' });
  check('POST /api/sessions with a wrong password is 401', isError(r, 401), `${r.status} ${r.text}`);
  r = await http(base, 'POST', '/api/sessions', { participants: 3 }, admin);
  check('participants not a multiple of the group size is 400', isError(r, 400), `${r.status} ${r.text}`);
  r = await http(base, 'POST', '/api/sessions', { participants: 0 }, admin);
  check('zero participants is 400', isError(r, 400), `${r.status} ${r.text}`);
  r = await http(base, 'POST', '/api/sessions', '{"participants": 2.5}', admin);
  check('a fraction of participants is 400', isError(r, 400), `${r.status} ${r.text}`);
  for (const body of ['{"participants": 1e400}', '{"participants": "2"}', 'not json', '{"participants": [2]}']) {
    r = await http(base, 'POST', '/api/sessions', body, admin);
    check(`participants ${body} is 400 (PROTOCOL.md: else 400)`, isError(r, 400), `${r.status} ${r.text}`);
  }
  r = await http(base, 'POST', '/api/sessions', '{"participants": 2.0}', admin);
  check('participants written 2.0 is a whole number: 201', r.status === 201 && r.json &&
    r.json.participants.length === 2, `${r.status} ${r.text}`);

  const s = await newSession(base, 2);
  if (!s) return;
  const [pa, pb] = s.participants;

  // ---- the default live page ----------------------------------------------
  r = await http(base, 'GET', `/p/${pa.code}`);
  check('GET /p/P is the default live page (HTML loading /live.js and /static/live-page.js)',
    r.status === 200 && /text\/html/.test(r.type) && /<script src="\/live\.js"><\/script>/.test(r.text) &&
    /\/static\/live-page\.js/.test(r.text) && !/\{\{/.test(r.text), `${r.status} ${r.text.slice(0, 300)}`);
  const csp = r.headers.get('content-security-policy') || '';
  const scriptSrc = csp.split(';').find((d) => /script-src/.test(d)) || '';
  check("the live page's CSP allows scripts from 'self' only (no inline script)",
    /'self'/.test(scriptSrc) && !/unsafe-inline/.test(scriptSrc), csp);
  const desc = liveData(r.text);
  const add = desc && desc.messages && desc.messages.find((m) => m.name === 'add');
  const note = desc && desc.messages && desc.messages.find((m) => m.name === 'note');
  check('the page description names the player, the page and both messages',
    desc && desc.code === pa.code && desc.id_in_group === 1 && desc.page === 'live' &&
    typeof desc.title === 'string' && add && note, JSON.stringify(desc));
  check('field amount: int, required, 1..1000',
    add && add.fields.length === 1 && add.fields[0].name === 'amount' && add.fields[0].type === 'int' &&
    add.fields[0].required === true && add.fields[0].min === 1 && add.fields[0].max === 1000,
    JSON.stringify(add));
  check('field text: string, required, max_len 50',
    note && note.fields.length === 1 && note.fields[0].name === 'text' && note.fields[0].type === 'string' &&
    note.fields[0].required === true && note.fields[0].max_len === 50, JSON.stringify(note));
  for (const name of ['live-page.js', 'style.css', 'admin.js', 'live.html']) {
    r = await http(base, 'GET', `/static/${name}`);
    check(`GET /static/${name} is served`, r.status === 200 && r.text.length > 100, `${r.status}`);
  }
  r = await http(base, 'GET', '/static/../../etc/passwd');
  check('GET /static/ outside the embedded files is 404', r.status === 404, r.status);

  // ---- streams, send all / send others -------------------------------------
  const a = await openStream(base, pa.code, undefined, 'player 1');
  const b = await openStream(base, pb.code, undefined, 'player 2');
  const la = await a.waitFor(() => true);
  const lb = await b.waitFor(() => true);
  check('on load sends {total: 0, log: "", clicks: 0} to each',
    la && lb && eq(la.data, { total: 0, log: '', clicks: 0 }) && eq(lb.data, la.data), JSON.stringify([la, lb]));

  r = await http(base, 'POST', `/p/${pa.code}/live`, { type: 'add', amount: 5 });
  check('an accepted message answers 200 {"ok":true}', r.status === 200 && r.json && r.json.ok === true, `${r.status} ${r.text}`);
  const both = (await a.waitFor((d) => d.total === 5 && d.by === 1)) && (await b.waitFor((d) => d.total === 5 && d.by === 1));
  check('send all reaches both players', !!both, JSON.stringify([a.events, b.events]));

  // ---- validation ---------------------------------------------------------
  const bad = [
    ['out of range (0)', { type: 'add', amount: 0 }, /amount/],
    ['out of range (1001)', { type: 'add', amount: 1001 }, /amount/],
    ['a string for an int', { type: 'add', amount: '5' }, /amount/],
    ['a missing field', { type: 'add' }, /amount/],
    ['an unknown field', { type: 'add', amount: 1, extra: 2 }, /extra/],
    ['a float for an int', { type: 'add', amount: 1.5 }, /amount/],
    ['a bool for an int', { type: 'add', amount: true }, /amount/],
    ['a string over its max', { type: 'note', text: 'x'.repeat(51) }, /text/],
    ['a number for a string', { type: 'note', text: 5 }, /text/],
    ['an unknown type', { type: 'nope' }, /nope/],
    // the reason is cut at 511 bytes: never inside a character
    ['an unknown type of 400 two-byte characters', { type: 'é'.repeat(400) }, /^unknown message type 'é+$/],
    ['an unknown type of 300 emoji', { type: '😀'.repeat(300) }, /^unknown message type '(?:😀)+$/u],
    ['a type that is not a string', { type: 7 }, null],
    ['a non-object body (42)', 42, null],
    ['an array body', [1, 2], null],
    ['a null body', null, null],
  ];
  for (const [name, body, re] of bad) {
    r = await http(base, 'POST', `/p/${pa.code}/live`, JSON.stringify(body));
    check(`${name} is 422 with a reason${re ? ' naming ' + re.source : ''}`, isError(r, 422, re), `${r.status} ${r.text}`);
  }
  r = await http(base, 'POST', `/p/${pa.code}/live`, '{"type": "add", "amount": 3.0}');
  check('"amount": 3.0 in the JSON text is accepted as an int', r.status === 200, `${r.status} ${r.text}`);
  r = await http(base, 'POST', `/p/${pa.code}/live`, { type: 'note', text: 'é'.repeat(50) });
  check('a string of 50 code points (100 bytes) is within max 50', r.status === 200, `${r.status} ${r.text}`);
  r = await http(base, 'POST', `/p/${pa.code}/live`, '{"type": "add", "amount": ');
  check('malformed JSON is 400 JSON', isError(r, 400), `${r.status} ${r.text}`);
  r = await http(base, 'POST', `/p/${pa.code}/live`, '{"type": "add", "amount": 1e400}');
  check('a number beyond the double range is 422 naming the field', isError(r, 422, /amount/), `${r.status} ${r.text}`);
  r = await http(base, 'POST', `/p/${pa.code}/live`, JSON.stringify({ type: 'note', text: 'y'.repeat(70000) }));
  check('a body over 64 KiB is 413', r.status === 413, `${r.status} ${r.text.slice(0, 100)}`);
  r = await http(base, 'POST', `/p/${pa.code}/live`, JSON.stringify({ type: 'note', text: 'y'.repeat(60000) }));
  check('a body just under 64 KiB is read and validated (422, not 413)', isError(r, 422, /text/), `${r.status} ${r.text.slice(0, 100)}`);
  r = await http(base, 'POST', '/p/NOSUCHCODE/live', { type: 'add', amount: 1 });
  check('POST to an unknown participant is 404 JSON', isError(r, 404), `${r.status} ${r.text}`);
  r = await http(base, 'GET', '/p/NOSUCHCODE/events');
  check('the events of an unknown participant are 404', r.status === 404, r.status);

  // ---- send others, unicode -----------------------------------------------
  const uni = 'ça va ✓ — ünïcödé 😀 "quotes" <b>';
  const aBefore = a.events.length;
  r = await http(base, 'POST', `/p/${pa.code}/live`, { type: 'note', text: uni });
  check('a unicode note is accepted', r.status === 200, `${r.status} ${r.text}`);
  const heard = await b.waitFor((d) => d.note === uni && d.from === 1);
  check('unicode round-trips and send others reaches the other player', !!heard, JSON.stringify(b.events.slice(-2)));
  const self = await a.waitFor((d) => d.log === uni && d.note === undefined);
  await sleep(QUIET_MS);
  check('the sender gets its own `send me`, not the `send others` message',
    !!self && !a.events.slice(aBefore).some((e) => e.data.note !== undefined), JSON.stringify(a.events.slice(aBefore)));

  // ---- a message without type runs on load; state after rejections ---------
  r = await http(base, 'POST', `/p/${pa.code}/live`, {});
  const st = await a.waitFor((d) => d.total === 8 && d.clicks === 2 && d.log === uni && d.by === undefined);
  check('{} runs on load and the state is intact after every rejection', r.status === 200 && !!st,
    `${r.status} ${JSON.stringify(a.events.slice(-1))}`);
  check('event ids on each stream are 1, 2, 3 ...', consecutive(a.ids(), 1) && consecutive(b.ids(), 1),
    JSON.stringify([a.ids(), b.ids()]));

  // ---- admin: state, list, CSV ---------------------------------------------
  r = await http(base, 'GET', `/api/sessions/${s.code}`);
  check('GET /api/sessions/S without the password is 401', isError(r, 401), `${r.status} ${r.text}`);
  r = await http(base, 'GET', `/api/sessions/${s.code}`, undefined, admin);
  const g = r.json && Array.isArray(r.json.groups) ? r.json.groups[0] : null;
  check('the session state is {groups: [{id, fields, players, tables}]}',
    r.status === 200 && g && g.id === 1 && g.fields && g.fields.total === 8 && g.fields.log === uni &&
    Array.isArray(g.players) && g.players.length === 2 && g.tables && typeof g.tables === 'object',
    `${r.status} ${r.text.slice(0, 400)}`);
  const p1 = g && g.players.find((p) => p.id_in_group === 1);
  check('players carry code, id_in_group, page and fields',
    p1 && p1.code === pa.code && p1.page === 'live' && p1.fields && p1.fields.clicks === 2, JSON.stringify(p1));
  r = await http(base, 'GET', '/api/sessions/NOSUCH', undefined, admin);
  check('an unknown session is 404', isError(r, 404), `${r.status} ${r.text}`);
  r = await http(base, 'GET', '/api/sessions', undefined, admin);
  check('GET /api/sessions lists the session',
    r.status === 200 && Array.isArray(r.json) && r.json.some((x) => x.code === s.code), `${r.status} ${r.text.slice(0, 300)}`);

  r = await http(base, 'GET', `/api/sessions/${s.code}/export/players.csv`, undefined, admin);
  const rows = r.text.split(/\r?\n/).filter((l) => l !== '');
  check('players.csv is CSV with a header row and one row per player',
    r.status === 200 && /text\/csv/.test(r.type) && rows.length === 3 && !rows[0].includes(pa.code) &&
    rows.some((l) => l.includes(pa.code)), `${r.status} ${r.type} ${r.text.slice(0, 300)}`);
  r = await http(base, 'GET', `/api/sessions/${s.code}/export/groups.csv`, undefined, admin);
  check('groups.csv has a header and the group', r.status === 200 && r.text.split(/\r?\n/).filter(Boolean).length === 2,
    `${r.status} ${r.text.slice(0, 300)}`);
  r = await http(base, 'GET', `/api/sessions/${s.code}/export/messages.csv`, undefined, admin);
  const mrows = r.text.split(/\r?\n/).filter(Boolean);
  check('messages.csv logs the messages received (header + rows)',
    r.status === 200 && mrows.length >= 6 && /type/.test(mrows[0]), `${r.status} ${r.text.slice(0, 300)}`);
  const logged = parseCsv(r.text);
  const row = (body) => logged.find((m) => m.body === body);
  const bad400 = row('{"type": "add", "amount": ');
  check('messages.csv keeps a message that is not JSON: rejected, with the 400\'s reason',
    bad400 && bad400.outcome === 'rejected' && /^malformed JSON/.test(bad400.reason) && bad400.participant !== '',
    JSON.stringify(bad400));
  const ok30 = row('{"type": "add", "amount": 3.0}');
  check('messages.csv keeps the body as the participant sent it (spaces, 3.0)',
    ok30 && ok30.outcome === 'accepted' && ok30.type === 'add', JSON.stringify(logged.slice(-4)));
  const far = row('{"type": "add", "amount": 1e400}');
  check('messages.csv keeps a message refused for a number out of range',
    far && far.outcome === 'rejected' && /amount/.test(far.reason), JSON.stringify(far));
  r = await http(base, 'GET', `/api/sessions/${s.code}/export/players.csv`);
  check('CSV export needs the password', r.status === 401, r.status);

  // ---- the /admin page and its cookie login ---------------------------------
  r = await http(base, 'GET', '/admin');
  check('GET /admin is the monitor page', r.status === 200 && /text\/html/.test(r.type) && /admin\.js/.test(r.text),
    `${r.status} ${r.type}`);
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  r = await http(base, 'POST', '/admin/login', 'password=wrong', form);
  const wrongCookies = r.headers.getSetCookie() || [];
  check('a wrong login sets no cookie',
    (r.status === 303 || r.status === 401) && !wrongCookies.some((c) => /^[^=]+=[^;]+/.test(c)),
    `${r.status} ${JSON.stringify(wrongCookies)}`);
  r = await http(base, 'POST', '/admin/login', `password=${encodeURIComponent(PW)}`, form);
  const cookies = r.headers.getSetCookie() || [];
  const cookie = cookies.map((c) => c.split(';')[0]).find((c) => /=./.test(c));
  check('the right login answers 303 to /admin with an HttpOnly cookie',
    r.status === 303 && /\/admin$/.test(r.headers.get('location') || '') && !!cookie &&
    cookies.some((c) => /HttpOnly/i.test(c)), `${r.status} ${r.headers.get('location')} ${JSON.stringify(cookies)}`);
  if (cookie) {
    check('the cookie is not the password', cookie.slice(cookie.indexOf('=') + 1) !== PW, cookie);
    r = await http(base, 'GET', '/api/sessions', undefined, { Cookie: cookie });
    check('the admin cookie opens the API', r.status === 200 && Array.isArray(r.json), `${r.status} ${r.text.slice(0, 200)}`);
    r = await http(base, 'POST', '/admin/logout', '', { Cookie: cookie, ...form });
    check('logout answers a redirect', r.status === 303 || r.status === 302, r.status);
  }

  // ---- the Next button -----------------------------------------------------
  r = await http(base, 'POST', `/p/${pb.code}/next`, '', form);
  check('POST /p/P/next is 303 to /p/P',
    r.status === 303 && (r.headers.get('location') || '').endsWith(`/p/${pb.code}`), `${r.status} ${r.headers.get('location')}`);
  r = await http(base, 'GET', `/p/${pb.code}`);
  check('after Next the player sees the finished page',
    r.status === 200 && /text\/html/.test(r.type) && !/live-data/.test(r.text) && !/\{\{/.test(r.text),
    `${r.status} ${r.text.slice(0, 300)}`);
  r = await http(base, 'GET', `/api/sessions/${s.code}`, undefined, admin);
  const p2 = r.json && r.json.groups && r.json.groups[0].players.find((p) => p.id_in_group === 2);
  check("the admin state shows player 2's page as finished", p2 && p2.page === 'finished', JSON.stringify(p2));
  r = await http(base, 'POST', `/p/${pb.code}/live`, { type: 'add', amount: 1 });
  check('handlers take messages whatever the page (200 on the finished page)', r.status === 200, `${r.status} ${r.text}`);

  a.close(); b.close();
  const stopped = await srv.stop('SIGTERM');
  check('SIGTERM stops the server with status 0', stopped && stopped.code === 0, JSON.stringify(stopped));
}

run(main);
