// security.js -- what an outsider can and cannot do (issue 5, "Security"):
//   - participant and session codes carry at least 80 bits (16 characters
//     of a 32-letter alphabet, drawn with getrandom in runtime/ctx.c) and
//     never repeat;
//   - every admin endpoint refuses without the password (401), also with a
//     wrong one, and the cookie the login sets is HttpOnly, SameSite=Strict
//     and not the password;
//   - POST /p/P/next, POST /api/sessions and the admin login refuse a
//     foreign Origin (403) and accept the page's own (the Bearer password,
//     which no browser sends by itself, needs no Origin check);
//   - only embedded files are served (no path traversal, encoded or not);
//   - wrong admin passwords from one address: about 100, then 429 with
//     Retry-After (about one more try a second), the login form too;
//   - pages carry a Content-Security-Policy without inline scripts, and
//     nosniff;
//   - the default page's script inserts received data as text (no
//     innerHTML and friends in the embedded scripts), and a hostile note
//     comes back in the event stream as the same JSON string, never as
//     markup in a page.
// Environment: LIVEC, GAMES (as tests/e2e/lib.js).
'use strict';
const path = require('path');
const {
  PW, admin, check, run, tmpdir, compile, Server, http, newSession, openStream, isError,
} = require(path.join(__dirname, '..', 'e2e', 'lib.js'));

/* Bits of entropy of a random code drawn uniformly from `alphabet`. */
const bits = (code, alphabet) => code.length * Math.log2(alphabet);

async function main() {
  const dir = tmpdir('security');
  const bin = compile('counter', dir);
  if (!bin) return;
  const srv = new Server(bin, dir);
  if (!check('server starts', await srv.start(), srv.stderr)) return;
  const base = srv.base;
  const host = new URL(base).host;

  // ---- codes ------------------------------------------------------------------
  const sessions = [];
  for (let i = 0; i < 5; i++) sessions.push(await newSession(base, 20));
  if (sessions.some((x) => !x)) return;
  const codes = sessions.flatMap((x) => [x.code, ...x.participants.map((p) => p.code)]);
  check('codes are 16 characters of [a-z2-7]: 80 bits each',
    codes.every((c) => /^[a-z2-7]{16}$/.test(c) && bits(c, 32) >= 80), codes.slice(0, 5).join(' '));
  check(`${codes.length} codes, none repeated`, new Set(codes).size === codes.length, '');
  const chars = new Set(codes.join(''));
  check('the codes use the whole alphabet (not a narrow generator)', chars.size === 32, [...chars].sort().join(''));
  const s = sessions[0];
  const [pa] = s.participants;

  // ---- admin API without the password -----------------------------------------
  const adminReqs = [
    ['GET', '/api/sessions'], ['POST', '/api/sessions', { participants: 2 }],
    ['GET', `/api/sessions/${s.code}`], ['GET', `/api/sessions/${s.code}/export/players.csv`],
    ['GET', `/api/sessions/${s.code}/export/messages.csv`],
  ];
  for (const [m, p, body] of adminReqs) {
    let r = await http(base, m, p, body);
    check(`${m} ${p} without the password is 401`, isError(r, 401), `${r.status} ${r.text.slice(0, 100)}`);
    r = await http(base, m, p, body, { Authorization: `Bearer ${PW}x` });
    check(`${m} ${p} with a wrong password is 401`, isError(r, 401), `${r.status} ${r.text.slice(0, 100)}`);
  }
  let r = await http(base, 'GET', '/api/sessions', undefined, { Cookie: 'lv_admin=' + 'a'.repeat(64) });
  check('a made-up admin cookie is 401', isError(r, 401), `${r.status}`);

  // ---- login cookie --------------------------------------------------------------
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  r = await http(base, 'POST', '/admin/login', `password=${PW}`, { ...form, Origin: `http://${host}` });
  const set = (r.headers.getSetCookie && r.headers.getSetCookie()) || [];
  const cookie = set.find((c) => /^lv_admin=./.test(c)) || '';
  check('the login cookie is HttpOnly and SameSite=Strict, and is not the password',
    /;\s*HttpOnly/i.test(cookie) && /;\s*SameSite=Strict/i.test(cookie) &&
    cookie.split(';')[0] !== `lv_admin=${PW}`, cookie);
  r = await http(base, 'POST', '/admin/login', `password=${PW}`, { ...form, Origin: 'http://evil.example' });
  check('a login from a foreign Origin is refused (403)', r.status === 403, `${r.status}`);

  // ---- Origin ------------------------------------------------------------------------
  r = await http(base, 'POST', `/p/${pa.code}/next`, '', { Origin: 'http://evil.example' });
  check('POST /p/P/next from a foreign Origin is 403', isError(r, 403), `${r.status} ${r.text}`);
  // the login cookie is what a foreign page could make a browser send: with
  // it, a foreign Origin is refused; the Bearer password no browser adds by
  // itself (a foreign fetch with it needs a CORS preflight, never granted)
  const adminCookie = { Cookie: cookie.split(';')[0] };
  r = await http(base, 'POST', '/api/sessions', { participants: 2 }, { ...adminCookie, Origin: 'http://evil.example' });
  check('POST /api/sessions with the login cookie from a foreign Origin is 403', isError(r, 403), `${r.status} ${r.text}`);
  r = await http(base, 'POST', '/api/sessions', { participants: 2 }, { ...adminCookie, Origin: `http://${host}` });
  check('POST /api/sessions with the login cookie from the page\'s own Origin works', r.status === 201, `${r.status} ${r.text}`);
  r = await http(base, 'POST', '/api/sessions', { participants: 2 }, { ...admin, Origin: 'http://evil.example' });
  check('POST /api/sessions with the Bearer password works whatever the Origin', r.status === 201, `${r.status} ${r.text}`);
  r = await http(base, 'OPTIONS', '/api/sessions', undefined, { Origin: 'http://evil.example',
    'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' });
  check('no CORS preflight is granted', !r.headers.get('access-control-allow-origin'), `${r.status}`);
  r = await http(base, 'POST', '/api/sessions', { participants: 2 }, { ...admin, Origin: `http://${host}` });
  check('POST /api/sessions from the page\'s own Origin works', r.status === 201, `${r.status} ${r.text}`);

  // ---- static files -------------------------------------------------------------------
  for (const p of ['/static/../../../../etc/passwd', '/static/%2e%2e/%2e%2e/etc/passwd',
    '/static/..%2f..%2fetc%2fpasswd', '/static/', '/static/live-page.js/../../etc/passwd', '/etc/passwd',
    '/static//etc/passwd']) {
    r = await http(base, 'GET', p);
    check(`GET ${p} is 404`, r.status === 404 && !/root:/.test(r.text), `${r.status} ${r.text.slice(0, 80)}`);
  }

  // ---- CSP and text-only insertion ------------------------------------------------------
  for (const p of [`/p/${pa.code}`, '/admin', '/static/live.html']) {
    r = await http(base, 'GET', p);
    const csp = r.headers.get('content-security-policy') || '';
    const script = (csp.split(';').find((d) => /script-src/.test(d)) || '');
    check(`${p} has a CSP whose script-src is 'self' without 'unsafe-inline', and nosniff`,
      r.status === 200 && /'self'/.test(script) && !/unsafe-inline/.test(script) &&
      /object-src 'none'/.test(csp) && r.headers.get('x-content-type-options') === 'nosniff', `${r.status} ${csp}`);
  }
  for (const p of ['/static/live-page.js', '/live.js', '/static/admin.js']) {
    r = await http(base, 'GET', p);
    check(`${p} never inserts HTML (no innerHTML, outerHTML, insertAdjacentHTML, document.write)`,
      r.status === 200 && !/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/.test(r.text), `${r.status}`);
  }
  const a = await openStream(base, pa.code, undefined, 'hostile note');
  await a.waitCount(1);
  const evil = '<img src=x onerror=alert(1)></script><b>&amp;';   // within max 50
  r = await http(base, 'POST', `/p/${pa.code}/live`, { type: 'note', text: evil });
  const ev = await a.waitFor((d) => typeof d.log === 'string' && d.log.length > 0);
  check('a hostile note comes back as the same JSON string', r.status === 200 && ev && ev.data.log === evil,
    JSON.stringify(ev));
  a.close();
  r = await http(base, 'GET', `/p/${pa.code}`);
  check('the page does not echo stored text as markup', r.status === 200 && !r.text.includes('<img src=x'),
    r.text.slice(0, 200));

  // ---- guessing the admin password is slowed down (last: it spends the bucket) ------------
  const wrong = { Authorization: 'Bearer guess' };
  const statuses = [];
  for (let i = 0; i < 110; i++) statuses.push((await http(base, 'GET', '/api/sessions', undefined, wrong)).status);
  const n401 = statuses.filter((x) => x === 401).length;
  const first429 = statuses.indexOf(429);
  // (the checks above spent a few of the 100)
  check('about 100 wrong admin passwords from one address are 401, then 429',
    n401 >= 85 && n401 <= 103 && first429 === n401 && statuses.slice(first429).every((x) => x === 429),
    JSON.stringify({ n401, first429 }));
  r = await http(base, 'GET', '/api/sessions', undefined, wrong);
  check('the 429 says when to try again', r.status === 429 && Number(r.headers.get('retry-after')) >= 1,
    `${r.status} ${r.headers.get('retry-after')} ${r.text}`);
  r = await http(base, 'POST', '/admin/login', 'password=guess',
    { 'Content-Type': 'application/x-www-form-urlencoded', Origin: base });
  check('the login form is slowed down too', r.status === 429, `${r.status} ${r.text}`);
  r = await http(base, 'GET', '/api/sessions');
  check('without a credential it is still 401', r.status === 401, `${r.status}`);
  await new Promise((res) => setTimeout(res, 1100));
  r = await http(base, 'GET', '/api/sessions', undefined, admin);
  check('a second later the right password works', r.status === 200, `${r.status} ${r.text}`);
}

run(main);
