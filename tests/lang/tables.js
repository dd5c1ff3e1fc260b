// tables.js -- behaviour of tables (LANGUAGE.md §2 `table`, §4 insert / for
// ... where ... order by / delete, §5 count and table values) on
// tests/lang/tables.live, over HTTP + SSE: ids 1, 2, 3... never reused (also
// after a restart), where and order by (ties in id order, asc and desc),
// bare field names in where (the innermost row), deleting while looping,
// rows inserted during a loop not visited, row writes, count and len, table
// values nested in objects, fns that insert and count, rollback of a
// rejected handler that inserted rows, and the rows in the admin JSON and
// the CSV export.
// Run by `make check` (compiler/Makefile.inc) or by hand:
//   LIVEC=/path/to/livec node tests/lang/tables.js
'use strict';
const {
  check, run, eq, isError, http, admin, setup, adminState, Player, Server, newSession,
} = require('./lib-lang.js');

const row = (id, seller, price, note, sold = false, tags = [7, 8]) => ({ id, seller, price, note, sold, tags });
const ids = (rows) => (Array.isArray(rows) ? rows.map((r) => r.id) : rows);

async function main() {
  const g = await setup('tables', 2);
  if (!g) return;
  const { bin, dir, session, players: [p1, p2] } = g;
  let srv = g.srv;

  const l1 = await p1.waitFor(() => true);
  check('on load: a view with empty table values and counts',
    eq(l1, { offers: [], cheap: [], n: 0, mine: 0 }), JSON.stringify(l1));

  // ---- insert (through a fn and directly), ids, initial values ------------
  let m = await p1.ask({ type: 'sell', price: 5 }, (d) => d.n === 1);
  check('insert through a fn: id 1, left-out columns get their initial values',
    m && eq(m.offers, [row(1, 1, 5, 'helper')]) && eq(m.cheap, [row(1, 1, 5, 'helper')]) && m.mine === 1,
    JSON.stringify(m));
  const seen2 = await p2.waitFor((d) => d.n === 1);
  check('send all of a view with a table value reaches the other player', !!seen2, JSON.stringify(p2.msgs()));
  m = await p2.ask({ type: 'sell', price: 20, note: 'big' }, (d) => d.n === 2);
  check('insert with every entry written in another order: id 2',
    m && eq(m.offers[1], row(2, 2, 20, 'big')) && m.mine === 1, JSON.stringify(m));
  await p1.ask({ type: 'sell', price: 3, note: 'c' }, (d) => d.n === 3);
  await p2.ask({ type: 'sell', price: 12.5, note: 'a' }, (d) => d.n === 4);
  m = await p1.ask({ type: 'sell', price: 5, note: 'tie' }, (d) => d.n === 5);
  check('ids are 1..5 in insertion order', m && eq(ids(m.offers), [1, 2, 3, 4, 5]), JSON.stringify(m && m.offers));
  check('where + order by price asc, ties in id order', m && eq(ids(m.cheap), [3, 1, 5]), JSON.stringify(m && m.cheap));
  check('count(T where C) with me', m && m.mine === 3, JSON.stringify(m));

  // ---- order by, both directions, strings ---------------------------------
  m = await p1.ask({ type: 'sorted', down: true }, (d) => d.rows);
  check('order by price desc, ties still in id order', m && eq(ids(m.rows), [2, 4, 1, 5, 3]), JSON.stringify(m));
  m = await p1.ask({ type: 'sorted' }, (d) => d.rows);
  check('order by a string column asc', m && eq(ids(m.rows), [4, 2, 3, 1, 5]), JSON.stringify(m));

  // ---- nested loops: a bare field is the innermost row's ------------------
  m = await p1.ask({ type: 'nested' }, (d) => d.pairs !== undefined);
  check('nested loops: `where price > a.price` compares the inner row with the outer',
    m && m.pairs === 9, JSON.stringify(m));
  check('count(...) inside an array literal', m && eq(m.counts, [3, 2]), JSON.stringify(m));

  // ---- loop with where/order by, row writes, break ------------------------
  m = await p2.ask({ type: 'buy_cheapest' }, (d) => d.bought);
  check('for ... where ... order by visits the cheapest first; r.f = v writes the row; a row is sent as an object',
    m && m.id === 3 && eq(m.bought, row(3, 1, 3, 'c', true)) && m.total === 3, JSON.stringify(m));
  m = await p2.ask({ type: 'buy_cheapest' }, (d) => d.bought);
  check('the next cheapest (a tie at 5: the lower id first)', m && m.id === 1 && m.total === 8, JSON.stringify(m));

  // ---- row writes by id, r.id in where, arrays in rows ---------------------
  m = await p1.ask({ type: 'rename', id: 4, note: 'renamed' }, (d) => Array.isArray(d));
  check('`where id == msg.id`, string and array-element writes to a row',
    m && eq(m, [row(4, 2, 12.5, 'renamed', false, [7, 11])]), JSON.stringify(m));
  let r = await p1.send({ type: 'rename', id: 99, note: 'x' });
  check('reject with a computed reason', isError(r, 422, /^no offer 99$/), r.text);

  // ---- rollback ------------------------------------------------------------
  r = await p1.send({ type: 'bad_insert' });
  check('a handler that inserted rows and was rejected answers 422', isError(r, 422, /rolled back/), r.text);
  let st = await adminState(srv.base, session.code);
  let rows = st && st.groups && st.groups[0].tables && st.groups[0].tables.offer;
  check('admin JSON shows the rows, and the rejected inserts are not among them',
    Array.isArray(rows) && eq(ids(rows), [1, 2, 3, 4, 5]) && rows[3].note === 'renamed', JSON.stringify(st));

  // ---- delete while looping, inserts during a loop, len/count --------------
  m = await p1.ask({ type: 'drop_above', limit: 10 }, (d) => d.dropped !== undefined);
  check('delete while looping over the same table; rows inserted during the loop are not visited',
    m && m.dropped === 2 && m.left === 3 && m.cheap === 3, JSON.stringify(m));
  check('order by id desc after deletes', m && eq(ids(m.all), [5, 3, 1]), JSON.stringify(m && m.all));

  m = await p1.ask({ type: 'sell', price: 1 }, (d) => d.n === 4);
  check('ids are never reused: after 1..5 and two deleted rows (6, 7), the next is 8',
    m && eq(ids(m.offers), [1, 3, 5, 8]), JSON.stringify(m && m.offers));

  // ---- CSV export ------------------------------------------------------------
  r = await http(srv.base, 'GET', `/api/sessions/${session.code}/export/offer.csv`, undefined, admin);
  const lines = r.text.trim().split(/\r?\n/);
  check('CSV export of the table: a header naming the columns and one line per row',
    r.status === 200 && /\bid\b/.test(lines[0]) && /\bprice\b/.test(lines[0]) && /\bnote\b/.test(lines[0]) &&
    lines.length === 5, r.text);

  // a table named `draws`: draws.csv is its export, random-draws.csv the log of
  // random() draws (this game draws nothing: the header alone)
  r = await http(srv.base, 'GET', `/api/sessions/${session.code}/export/draws.csv`, undefined, admin);
  const dl = (r.text || '').trim().split(/\r?\n/);
  check('a table named draws: draws.csv is the table (one row per sell)',
    r.status === 200 && dl[0] === 'session,group,id,price' && dl.length > 1 &&
    dl.slice(1).every((l, i) => l.startsWith(`${session.code},1,${i + 1},`)), r.text);
  r = await http(srv.base, 'GET', `/api/sessions/${session.code}/export/random-draws.csv`, undefined, admin);
  check('and random-draws.csv is the log of random() draws',
    r.status === 200 && r.text === 'session,n,group,participant,message,lo,hi,value,time\r\n', JSON.stringify(r.text));

  // ---- a second group has its own rows and ids ----------------------------
  const s2 = await newSession(srv.base, 2);
  if (s2) {
    const q = await new Player(srv.base, s2.participants[0]).open();
    const ql = await q.waitFor(() => true);
    check("another session's group starts with no rows", ql && ql.n === 0, JSON.stringify(ql));
    m = await q.ask({ type: 'sell', price: 2 }, (d) => d.n === 1);
    check('and numbers its own rows from 1', m && eq(ids(m.offers), [1]), JSON.stringify(m));
    q.close();
  }

  // ---- restart: rows and the id counter survive ----------------------------
  p1.close();
  p2.close();
  await srv.stop();
  srv = new Server(bin, dir, srv.db);
  if (!check('the server restarts on the same database', await srv.start(), srv.stderr)) return;
  const p1b = await new Player(srv.base, session.participants[0]).open();
  const back = await p1b.waitFor(() => true);
  check('after a restart the rows are still there', back && eq(ids(back.offers), [1, 3, 5, 8]), JSON.stringify(back));
  m = await p1b.ask({ type: 'sell', price: 7 }, (d) => d.n === 5);
  check('after a restart the next id is 9', m && eq(ids(m.offers), [1, 3, 5, 8, 9]), JSON.stringify(m && m.offers));
  p1b.close();
}

run(main);
