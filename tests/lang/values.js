// values.js -- behaviour of values (LANGUAGE.md §2 fields and messages, §5
// expressions) on tests/lang/values.live, over HTTP + SSE: initial values of
// every field type, message constraints and defaults (the implicit max
// 1000, code points), integer / and % as in C, mixed arithmetic, float(),
// int(), str(), string +, arrays as values (copies), and runtime errors
// (overflow, division by zero, index out of bounds, player(i) out of range,
// a float that is not finite) that reject naming the .live line and change
// nothing.
// Run by `make check` (compiler/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec node tests/lang/values.js
'use strict';
const { check, eq, isError, run, setup, http, admin, newSession } = require('./lib-lang.js');

async function main() {
  const g = await setup('values', 2);
  if (!g) return;
  const [p1] = g.players;

  const l = await p1.waitFor(() => true);
  check('on load: initial values of float, bool, string and arrays of every scalar type (consts in sizes)',
    eq(l, {
      f: 1.5, b: true, s: 'start', ints: [1, 2, 3], floats: [0.5, 2], bools: [false, false],
      strs: ['red', 'green', 'blue'], count: 0, page: 'live', id: 1, n: 2,
    }), JSON.stringify(l));

  // ---- message constraints and defaults --------------------------------------
  let m = await p1.ask({ type: 'nums', i: 5 });
  check('defaults make fields optional (float, int in [..], string in [..], max, bool)',
    eq(m, { i: 5, f: 0.25, c: 4, w: 'red', t: 'abc', u: '', flag: false, tlen: 3, ulen: 0 }), JSON.stringify(m));
  m = await p1.ask({ type: 'nums', i: -5, f: 2.5, c: 1, w: 'blue', t: 'ééé', u: 'x', flag: true });
  check('bounds are inclusive; max counts code points ("ééé" is 3)',
    m && m.i === -5 && m.f === 2.5 && m.c === 1 && m.w === 'blue' && m.t === 'ééé' && m.tlen === 3 && m.flag === true,
    JSON.stringify(m));
  const refusals = [
    [{ type: 'nums', i: 6 }, /'i'/, 'int above a range made of consts'],
    [{ type: 'nums', i: 1, f: 3 }, /'f'/, 'float outside its range'],
    [{ type: 'nums', i: 1, c: 3 }, /'c'/, 'int not among its choices'],
    [{ type: 'nums', i: 1, w: 'pink' }, /'w'/, 'string not among its choices'],
    [{ type: 'nums', i: 1, t: 'abcd' }, /'t'/, 'string over its max'],
    [{ type: 'nums', i: 1, u: 'x'.repeat(1001) }, /'u'/, 'string over the implicit max 1000'],
    [{ type: 'nums', i: 1.5 }, /'i'/, 'int with a fraction'],
    [{ type: 'nums', i: '1' }, /'i'/, 'int given as a string'],
    [{ type: 'nums' }, /'i'/, 'a required field missing'],
  ];
  for (const [body, re, what] of refusals) {
    const r = await p1.send(body);
    check(`validation: ${what} is 422 naming the field`, isError(r, 422, re), r.text);
  }
  // numbers beyond 64 bits or the double range are valid JSON: 422 naming
  // the field (or the float field takes them), never 400 (raw bodies: JS
  // numbers cannot write them)
  const outOfRange = [
    ['{"type":"nums","i":99999999999999999999}', /'i'/, 'int above 64 bits'],
    ['{"type":"nums","i":-9223372036854775809}', /'i'/, 'int one below INT64_MIN'],
    ['{"type":"nums","i":1,"f":1e400}', /'f'/, 'float beyond the double range'],
    ['{"type":"nums","i":1,"f":99999999999999999999}', /'f'/, 'float field, big integer outside its range'],
    ['{"type":"nums","i":1,"zz":-1E999}', /'zz'/, 'unknown field holding 1e999'],
    ['{"type":"nums","i":1,"u":1e999}', /'u'/, 'string field given 1e999'],
    ['{"type":"nums","i":1,"u":99999999999999999999}', /'u'/, 'string field given an integer beyond 64 bits'],
  ];
  for (const [body, re, what] of outOfRange) {
    const r = await p1.send(body);
    check(`validation: ${what} is 422 naming the field`, isError(r, 422, re), r.text);
  }
  let r0;
  for (const body of ['{"type":"nums","i":1,"u":1e1-99999999999999999999}', '{"type":"nums","i":1.5-1e999}',
    '[1e999', '{"type":"nums","i":1e999}garbage', '{"é\\é":1}', '["\\é"]']) {
    const r = await p1.send(body);
    check(`not JSON (around a number out of range, or a bad escape) is 400 with a reason: ${body}`,
      isError(r, 400, /^malformed JSON/), r.text);
  }
  r0 = await p1.send('{"type":"nums","i":1,"o":{"x":1e999}}');
  check('a number out of range inside a nested object is not named as a field',
    isError(r0, 422, /^a number is out of range: 1e999$/), r0.text);
  r0 = await p1.send('{"type":"nums","i":1,"\\u0066":1e999}');
  check('the field of a number out of range is named as decoded', isError(r0, 422, /^field 'f' is out/), r0.text);
  r0 = await p1.send('{"type":"nums","i":' + '['.repeat(3000) + ']'.repeat(3000) + '}');
  check('JSON nested 3000 deep is 422 (valid JSON that is not taken)', isError(r0, 422), r0.text);
  m = await p1.ask('{"type":"fl","x":1,"y":123456789012345678901234567890}');
  check('a float field takes an integer beyond 64 bits', m && m.f === 1 / 1.2345678901234568e29, JSON.stringify(m));
  m = await p1.ask({ type: 'nums', i: 1.0, u: 'é'.repeat(1000) });
  check('5.0 is an int; 1000 code points fit the implicit max', m && m.i === 1 && m.ulen === 1000, JSON.stringify(m && m.i));

  // ---- arithmetic ---------------------------------------------------------------
  m = await p1.ask({ type: 'arith', a: -7, b: 2 });
  check('integer / truncates toward zero, % takes the sign of the dividend; mixed int/float gives float',
    eq(m, { div: -3, mod: -1, mixed: -6.5, mul: -14, neg: 7, fdiv: -3.5, abs: 7, mn: -7, mx: 2.5 }), JSON.stringify(m));
  m = await p1.ask({ type: 'arith', a: 7, b: -2 });
  check('7 / -2 and 7 % -2; max of int and float is a float',
    m && m.div === -3 && m.mod === 1 && m.mx === 7, JSON.stringify(m));

  // ---- runtime errors: 422 naming the line, nothing changes ---------------------
  const errors = [
    [{ type: 'arith', a: 7, b: 0 }, /^values\.live:110: division by zero$/, 'division by zero'],
    ['{"type":"arith","a":-9223372036854775808,"b":-1}', /^values\.live:110: integer overflow$/, 'INT64_MIN / -1'],
    [{ type: 'big', x: 4000000000 }, /^values\.live:158: integer overflow$/, 'multiplication overflow'],
    [{ type: 'fl', x: 1, y: 0 }, /^values\.live:117: .*finite/, 'a float division by zero (inf)'],
    [{ type: 'idx', i: 3 }, /^values\.live:125: .*out of bounds/, 'index past the end'],
    [{ type: 'idx', i: -1 }, /^values\.live:125: .*out of bounds/, 'negative index'],
    [{ type: 'who', p: 3 }, /^values\.live:131: .*3/, 'player(3) of 2'],
    [{ type: 'who', p: 0 }, /^values\.live:131: .*0/, 'player(0)'],
  ];
  for (const [body, re, what] of errors) {
    const r = await p1.send(body);
    check(`runtime error: ${what} is 422 naming values.live and the line`, isError(r, 422, re), r.text);
  }
  m = await p1.ask({ type: 'grow', n: 20 });
  check('a string of 1 MiB (2^20 bytes) may be built', m && m.len === 1048576, JSON.stringify(m));
  let r = await p1.send({ type: 'grow', n: 21 });
  check('a string past 1 MiB is a runtime error at its line, not a server out of memory',
    isError(r, 422, /^values\.live:179: a string longer than 1048576 bytes/), r.text);
  m = await p1.ask({ type: 'fill', n: 100000 });
  check('a group\'s table holds 100,000 rows', m && m.rows === 100000, JSON.stringify(m));
  const s3 = await newSession(g.srv.base, 6);
  check("each group's on start has the whole loop budget (3 groups x 6,000,000 rounds)",
    s3 && s3.participants.length === 6, JSON.stringify(s3).slice(0, 200));
  m = await p1.ask({ type: 'spin', n: 10000000 });
  check('a handler may run 10,000,000 loop rounds', m && m.k === 10000000, JSON.stringify(m));
  const t0 = Date.now();
  r = await p1.send({ type: 'spin', n: 1e15 });
  check('one more round, here from a bound in the message, is a runtime error at the loop',
    isError(r, 422, /^values\.live:196: the handler ran past 10000000 loop rounds/), r.text);
  check('... and it comes in seconds, not days', Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
  const head = async (name) => {
    const x = await http(g.srv.base, 'GET', `/api/sessions/${g.session.code}/export/${name}.csv`, undefined, admin);
    return x.status === 200 ? x.text.split(/\r?\n/)[0] : `${x.status} ${x.text}`;
  };
  let h = await head('players');
  check('players.csv: a field named like a column of its own is player.NAME',
    h === 'session,participant,group,id_in_group,page,name,score,player.participant', h);
  h = await head('heap');
  check('TABLE.csv: a column named like one of the export\'s is TABLE.NAME', h === 'session,group,id,n,heap.session', h);
  r = await p1.send({ type: 'fill', n: 1 });
  check('the 100,001st row is a runtime error at the insert',
    isError(r, 422, /^values\.live:184: table heap has 100000 rows/), r.text);

  // ---- floats, conversions, strings ------------------------------------------
  m = await p1.ask({ type: 'fl', x: 3, y: 2 });
  check('float division, int() truncates, str() of floats reads back ("3.0"), fns with float/bool params',
    eq(m, { f: 1.5, i: 3, s: '3.0', desc: '2.0!', sum: 2, half: 0.5 }), JSON.stringify(m));
  m = await p1.ask({ type: 'fl', x: -2.7, y: -4 });
  check('int(-2.7) is -2; str(-4.0); float array element writes',
    m && m.i === -2 && m.desc === '-4.0?' && m.f === 0.675 && Math.abs(m.sum - (0.5 + 0.5 * -2.7)) < 1e-12,
    JSON.stringify(m));
  m = await p1.ask({ type: 'strs' });
  check('string +, str() of int/float/bool, len in code points, comparisons, escapes',
    eq(m, {
      s: 'start+p1true2.5-3', len: 13, u: 'héllo wörld ✓', cmp: [true, false, true], esc: 'q"uote\\ é \n',
    }), JSON.stringify(m));

  // ---- arrays are values --------------------------------------------------------
  m = await p1.ask({ type: 'idx', i: 2 });
  check('an array element write', m && eq(m.ints, [1, 2, 7]), JSON.stringify(m));
  m = await p1.ask({ type: 'arrays' });
  check('a local copy of an array does not change the field; fns take and return arrays; == on arrays',
    eq(m, {
      a: [100, 2, 7], g: [1, 2, 7], w: ['blue', 'green', 'red'], bools: [false, true], same: false,
      fs: [1, 2.5], len: 2, lit: [true, false], sl: ['x', 'y'],
    }), JSON.stringify(m));

  m = await p1.ask({ type: 'who', p: 2 });
  check('player(i).f += on another player; player(i).page', eq(m, { score: 1, page: 'live' }), JSON.stringify(m));

  // ---- nothing that failed changed anything ---------------------------------------
  m = await p1.ask({});
  check('after all that, only the accepted messages counted (each failed handler changed nothing)',
    m && m.count === 7 && eq(m.ints, [1, 2, 7]) && m.f === 0.675, JSON.stringify(m));
}

run(main);
