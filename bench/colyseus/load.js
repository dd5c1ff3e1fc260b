// colyseus/load.js -- the load driver for the Colyseus peer (issue 6).
//
// bench/loadgen speaks HTTP and SSE, not Colyseus's WebSocket protocol, so
// this driver plays the same counter load with the official client
// (@colyseus/sdk): N clients in rooms of 2, each sends "add" {amount: 1} and
// sends again when the room's broadcast of its own message comes back (the
// broadcast is Colyseus's only acknowledgement), one message in flight per
// client, as loadgen's closed loop.  Latency is send -> the broadcast on the
// other player's connection, attributed as in loadgen (the k-th event naming
// sender X is X's k-th message).  A Node driver saturates its core before
// a fast server does: its own CPU is printed (gen_cpu_pct).
//
//   node load.js --port P --pid SERVER_PID [--participants 64] [--duration 5]
//                [--warmup 1] [--label L]
// prints one line `RESULT key=value ...` in loadgen's format.  Only
// 127.0.0.1 is loaded; the run is bounded by --duration and MAX_MESSAGES.
'use strict';
const fs = require('fs');
const { Client } = require('@colyseus/sdk');

const GROUP_SIZE = 2;
const MAX_MESSAGES = 5000000;          // a bound on the whole run
const JOIN_TIMEOUT_MS = 60000;

const opt = { port: 0, pid: 0, participants: 64, duration: 5, warmup: 1, label: '' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, ''), v = process.argv[i + 1];
  if (!(k in opt)) { console.error(`load.js: unknown option ${process.argv[i]}`); process.exit(2); }
  opt[k] = k === 'label' ? v : Number(v);
}
if (!opt.port || opt.participants % GROUP_SIZE) { console.error('load.js: --port and an even --participants'); process.exit(2); }

function procCpu(pid) {        // CPU seconds of a process, from /proc
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(')')[1].trim().split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch (e) { return -1; }
}
function procRss(pid) {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024; } catch (e) { return -1; }
}
function quantile(a, q) { return a.length ? a[Math.min(a.length - 1, Math.ceil(q * a.length) - 1)] : 0; }
const now = () => Number(process.hrtime.bigint()) / 1000;   // microseconds

async function main() {
  const client = new Client(`ws://127.0.0.1:${opt.port}`);
  const players = [];
  let t0 = Infinity, t1 = Infinity, running = false, accepted = 0, events = 0, total = 0;
  const lat = [];
  const deadline = Date.now() + JOIN_TIMEOUT_MS;
  for (let i = 0; i < opt.participants; i++) {      // in order: pairs share a room
    if (Date.now() > deadline) throw new Error('joining took too long');
    const room = await client.joinOrCreate('counter');
    const p = { room, id: i % GROUP_SIZE + 1, sent: [], from: [0, 0, 0], first: false };
    players.push(p);
    if (p.id === 2 && room.roomId !== players[i - 1].room.roomId) throw new Error('rooms did not pair up');
    room.onMessage('error', (m) => { console.error('load.js: rejected', m); });
    room.onMessage('state', (m) => {
      const t = now();
      if (!p.first) { p.first = true; return; }
      if (t >= t0 && t < t1) events++;
      const by = m.by;
      if (by === p.id) {                       // our own message is done
        if (t >= t0 && t < t1) accepted++;
        total++;
        if (running && total < MAX_MESSAGES) send(p);
        return;
      }
      const s = players[players.indexOf(p) - p.id + by];
      const k = p.from[by]++;
      if (s && k < s.sent.length && s.sent[k] >= t0 && s.sent[k] < t1) lat.push(t - s.sent[k]);
    });
  }
  function send(p) { p.sent.push(now()); p.room.send('add', { amount: 1 }); }
  running = true;
  t0 = now() + opt.warmup * 1e6;
  t1 = t0 + opt.duration * 1e6;
  for (const p of players) send(p);
  await new Promise((r) => setTimeout(r, opt.warmup * 1000));
  const c0 = procCpu(opt.pid), g0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, opt.duration * 1000));
  const c1 = procCpu(opt.pid), g1 = process.cpuUsage(g0);
  running = false;
  await new Promise((r) => setTimeout(r, 500));
  lat.sort((a, b) => a - b);
  const secs = opt.duration;
  const line = {
    label: opt.label, scenario: 'counter', participants: opt.participants, group: GROUP_SIZE,
    senders: GROUP_SIZE, rate: 0, secs: secs.toFixed(2), accepted, accepted_per_s: Math.round(accepted / secs),
    rejected: 0, errors: 0, missed: 0,
    events_per_s: Math.round(events / secs), deliver_n: lat.length, unmatched: 0,
    deliver_p50_us: Math.round(quantile(lat, 0.5)), deliver_p99_us: Math.round(quantile(lat, 0.99)),
    deliver_p999_us: Math.round(quantile(lat, 0.999)), deliver_max_us: Math.round(lat.length ? lat[lat.length - 1] : 0),
    cpu_pct: c0 >= 0 ? Math.round((c1 - c0) / secs * 100) : -1,
    cpu_us_per_msg: accepted ? ((c1 - c0) * 1e6 / accepted).toFixed(1) : 0,
    rss_mib: procRss(opt.pid).toFixed(1),
    gen_cpu_pct: Math.round((g1.user + g1.system) / 1e4 / secs),
  };
  console.log('RESULT ' + Object.entries(line).map(([k, v]) => `${k}=${v}`).join(' '));
  process.exit(0);
}
setTimeout(() => { console.error('load.js: did not finish in time'); process.exit(1); },
           (opt.duration + opt.warmup) * 1000 + JOIN_TIMEOUT_MS + 10000).unref();
main().catch((e) => { console.error('load.js:', e.message || e); process.exit(1); });
