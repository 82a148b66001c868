// Socket.IO load without socket.io-client: a raw Engine.IO v4 / Socket.IO v5 client over `ws`, light enough
// that thousands of streaming clients fit in one process. It speaks exactly what socket.io-client sends:
// `40/chat,{auth}` to join the namespace, `42/chat,<ack>["message",{…}]` to start a turn, `3` to a ping.
'use strict';
const WebSocket = require('ws');
const { serve, exitWithParent } = require('../lib/child');
const { Samples, summarize } = require('../lib/stats');

const NS = '/chat';
const clients = [];
let session = null; // the streaming run in progress

class Client {
  constructor(url, token, localAddress) {
    this.url = url;
    this.token = token;
    this.localAddress = localAddress;
    this.connected = false;
    this.nextAck = 1;
    this.turn = null;
  }

  open() {
    return new Promise((resolve) => {
      const ws = new WebSocket(this.url, { perMessageDeflate: false, localAddress: this.localAddress });
      this.ws = ws;
      let settled = false;
      const settle = (ok, why) => {
        if (settled) return;
        settled = true;
        if (!ok) this.failure = why;
        resolve(ok);
      };
      ws.on('message', (data) => {
        const text = data.toString();
        if (text === '2') return ws.send('3');
        if (text[0] === '0') return ws.send(`40${NS},${JSON.stringify({ token: this.token })}`);
        if (text.startsWith(`40${NS},`)) {
          this.connected = true;
          return settle(true);
        }
        if (text.startsWith(`44${NS},`)) return settle(false, text);
        this.onPacket(text);
      });
      ws.on('error', (error) => settle(false, error.message));
      ws.on('close', () => {
        this.connected = false;
        settle(false, 'closed');
        if (this.turn) this.turn.failed = true;
      });
    });
  }

  onPacket(text) {
    const turn = this.turn;
    if (!turn || !session) return;
    const now = performance.now();
    if (text.startsWith(`42${NS},["text"`)) {
      if (turn.firstAt === 0) turn.firstAt = now;
      turn.deltas += 1;
      session.onDelta(now, turn, this);
    } else if (text.startsWith(`42${NS},["done"`)) {
      this.finish(now, false);
    } else if (text.startsWith(`42${NS},["error"`)) {
      this.finish(now, true, text.slice(0, 300));
    } else if (text.startsWith(`43${NS},`)) {
      const body = text.slice(text.indexOf('['));
      const [answer] = JSON.parse(body);
      if (answer.error) this.finish(now, true, JSON.stringify(answer.error));
      else turn.conversationId = answer.conversation_id;
    }
  }

  finish(now, failed, why) {
    const turn = this.turn;
    this.turn = null;
    turn.doneAt = now;
    turn.failed = failed;
    if (why) turn.why = why;
    if (turn.conversationId) this.ws.send(`42${NS},["leave",{"conversation_id":"${turn.conversationId}"}]`);
    session.onTurnEnd(turn, this);
  }

  startTurn(message) {
    const ack = this.nextAck++;
    this.turn = { startedAt: performance.now(), firstAt: 0, deltas: 0, lastDeltaAt: 0, failed: false };
    this.ws.send(`42${NS},${ack}${JSON.stringify(['message', { message }])}`);
  }
}

async function connect(msg) {
  const startedAt = performance.now();
  const perTick = Math.max(1, Math.round(msg.rate / 100));
  const opening = [];
  for (let i = 0; i < msg.count; i += perTick) {
    for (let k = i; k < Math.min(msg.count, i + perTick); k++) {
      const client = new Client(msg.url, msg.token, msg.localAddress);
      clients.push(client);
      opening.push(client.open());
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const results = await Promise.all(opening);
  const failed = results.filter((ok) => !ok).length;
  const reasons = [...new Set(clients.filter((c) => c.failure).map((c) => c.failure))].slice(0, 5);
  return {
    connected: results.length - failed,
    failed,
    reasons,
    seconds: (performance.now() - startedAt) / 1000,
  };
}

/**
 * Every connected client runs turns back to back, its first one at a random moment within one turn length
 * so that starts are spread evenly; turns started in the measuring window are measured.
 */
function stream(msg) {
  return new Promise((resolve) => {
    const active = clients.filter((c) => c.connected);
    const t0 = performance.now();
    const measureFrom = t0 + msg.warmupMs;
    const measureTo = measureFrom + msg.windowMs;
    const firstToken = new Samples(1 << 14);
    const gaps = new Samples(1 << 16);
    const errors = [];
    let measuredTurns = 0;
    let failedTurns = 0;
    let deltasInWindow = 0;
    let shortTurns = 0;
    let inFlight = 0;
    let stopping = false;
    let gapTick = 0;

    const next = (client) => {
      if (stopping || !client.connected) return;
      inFlight += 1;
      client.startTurn(msg.message);
    };
    session = {
      onDelta(now, turn) {
        if (now >= measureFrom && now < measureTo) {
          deltasInWindow += 1;
          // Every 8th gap is enough for its percentiles, and keeps the client light.
          if (turn.lastDeltaAt && (gapTick++ & 7) === 0) gaps.push(now - turn.lastDeltaAt);
        }
        turn.lastDeltaAt = now;
      },
      onTurnEnd(turn, client) {
        inFlight -= 1;
        const measured = turn.startedAt >= measureFrom && turn.startedAt < measureTo;
        if (measured) {
          measuredTurns += 1;
          if (turn.failed) {
            failedTurns += 1;
            if (errors.length < 5) errors.push(turn.why || 'failed');
          } else {
            if (turn.firstAt) firstToken.push(turn.firstAt - turn.startedAt);
            if (turn.deltas !== msg.tokens) shortTurns += 1;
          }
        }
        if (performance.now() < measureTo) next(client);
        else if (inFlight === 0) finish();
      },
    };
    const timers = active.map((client) => setTimeout(() => next(client), Math.random() * msg.turnMs));
    const finish = () => {
      if (stopping && finish.done) return;
      finish.done = true;
      stopping = true;
      timers.forEach(clearTimeout);
      clearTimeout(hardStop);
      session = null;
      resolve({
        clients: active.length,
        measuredTurns,
        failedTurns,
        shortTurns,
        errors,
        unfinished: inFlight,
        firstTokenMs: summarize(firstToken.toArray()),
        deltaGapMs: summarize(gaps.toArray()),
        deltasPerSecond: deltasInWindow / (msg.windowMs / 1000),
      });
    };
    // Turns still running long after the window are counted as unfinished rather than waited for.
    const hardStop = setTimeout(finish, msg.warmupMs + msg.windowMs + msg.turnMs * 3 + 10_000);
    setTimeout(() => {
      stopping = true;
      if (inFlight === 0) finish();
    }, msg.warmupMs + msg.windowMs);
  });
}

async function closeAll() {
  const closing = clients.splice(0).map(
    (c) =>
      new Promise((resolve) => {
        if (!c.ws || c.ws.readyState === WebSocket.CLOSED) return resolve();
        c.ws.once('close', resolve);
        c.ws.terminate();
      }),
  );
  await Promise.all(closing);
  return true;
}

serve({ connect, stream, close: closeAll, count: () => clients.filter((c) => c.connected).length });
exitWithParent();
