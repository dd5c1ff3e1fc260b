// colyseus/server.js -- games/counter.live on Colyseus (@colyseus/core with
// @colyseus/ws-transport), the second peer of the benchmark (issue 6).
//
// A room of 2 players plays the counter: "add" {amount: 1..1000} adds to the
// room's total and broadcasts {total, log, by} to both; a joining player is
// sent {total, log, clicks}.  Plain messages, no schema state, so the work
// per message matches the livec and plain-Node counters.  State is in memory
// only (nothing is written to disk).
//
//   node server.js [--port N]     prints "listening on http://127.0.0.1:PORT/"
// exits on SIGINT/SIGTERM or by itself after MAX_LIFETIME_MS.
'use strict';
const { Server, Room } = require('@colyseus/core');
const { WebSocketTransport } = require('@colyseus/ws-transport');

const GROUP_SIZE = 2;                    // counter.live: players 2
const MAX_LIFETIME_MS = 15 * 60 * 1000;  // a forgotten peer exits by itself

class CounterRoom extends Room {
  onCreate() {
    this.maxClients = GROUP_SIZE;
    this.total = 0;
    this.log = '';
    this.ids = new Map();     // sessionId -> id in group
    this.clicks = new Map();  // sessionId -> clicks
    this.onMessage('add', (client, msg) => {
      const amount = msg && msg.amount;
      if (!Number.isInteger(amount) || amount < 1 || amount > 1000) {
        client.send('error', { error: 'amount must be an int in 1..1000' });
        return;
      }
      this.total += amount;
      this.clicks.set(client.sessionId, (this.clicks.get(client.sessionId) || 0) + 1);
      this.broadcast('state', { total: this.total, log: this.log, by: this.ids.get(client.sessionId) });
    });
  }
  onJoin(client) {
    this.ids.set(client.sessionId, this.clients.length);
    client.send('state', { total: this.total, log: this.log, clicks: 0 });
  }
}

let port = 0;
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--port') port = Number(process.argv[++i]);
  else { console.error('usage: node server.js [--port N]'); process.exit(2); }
}
const transport = new WebSocketTransport();
const server = new Server({ transport, greet: false });
server.define('counter', CounterRoom);
server.listen(port, '127.0.0.1').then(() => {
  const addr = transport.server && transport.server.address ? transport.server.address() : null;
  console.log(`listening on http://127.0.0.1:${addr ? addr.port : port}/`);
});
const quit = () => process.exit(0);
process.on('SIGINT', quit);
process.on('SIGTERM', quit);
setTimeout(quit, MAX_LIFETIME_MS).unref();
