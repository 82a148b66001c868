// Socket.IO load without socket.io-client: a raw Engine.IO v4 / Socket.IO v5 client over `ws`, light enough
// that thousands of streaming clients fit in one process. It speaks exactly what socket.io-client sends:
// `40/chat,{auth}` to join the namespace, `42/chat,<ack>["message",{…}]` to start a turn, `3` to a ping.
// The streaming runs read events by their prefix only; the resume runs parse every packet (they check `seq`).
// With `protocol: 'ws-json'` a client speaks the Python design's plain WebSocket instead: one connection per
// conversation at `<url><uuid>`, `{"message": …}` sent, `{"type": "text" | "done" | "error", …}` received.
'use strict';
const { randomUUID } = require('node:crypto');
const WebSocket = require('ws');
const { serve, exitWithParent } = require('../lib/child');
const { Samples, summarize } = require('../lib/stats');
const { socketPacket } = require('../lib/frames');

const NS = '/chat';
const clients = [];
let session = null; // the streaming run in progress
let lastResume = null; // the turns of the last resume run, for its stored-answer check

class Client {
  constructor(url, token, localAddress, protocol = 'socket.io') {
    this.url = protocol === 'ws-json' ? `${url}${randomUUID()}` : url;
    this.token = token;
    this.localAddress = localAddress;
    this.protocol = protocol;
    this.connected = false;
    this.nextAck = 1;
    this.turn = null;
    /** Set by a resume run: every packet goes to it instead of the streaming run's handling. */
    this.listener = null;
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
      if (this.protocol === 'ws-json') {
        ws.on('open', () => {
          this.connected = true;
          settle(true);
        });
        ws.on('message', (data) => this.onJson(data.toString()));
      }
      ws.on('message', (data) => {
        // A connection this client dropped may still hand over what it had buffered: not this client's any more.
        if (this.ws !== ws || this.protocol === 'ws-json') return;
        const text = data.toString();
        if (text === '2') return ws.send('3');
        if (text[0] === '0') return ws.send(`40${NS},${JSON.stringify({ token: this.token })}`);
        if (text.startsWith(`40${NS},`)) {
          this.connected = true;
          return settle(true);
        }
        if (text.startsWith(`44${NS},`)) return settle(false, text);
        if (this.listener) this.listener(text);
        else this.onPacket(text);
      });
      ws.on('error', (error) => settle(false, error.message));
      ws.on('close', () => {
        settle(false, 'closed');
        if (this.ws !== ws) return;
        this.connected = false;
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

  /** The Python design's events: only their type matters here. */
  onJson(text) {
    const turn = this.turn;
    if (!turn || !session) return;
    const now = performance.now();
    if (text.startsWith('{"type": "text"') || text.startsWith('{"type":"text"')) {
      if (turn.firstAt === 0) turn.firstAt = now;
      turn.deltas += 1;
      session.onDelta(now, turn, this);
    } else if (text.includes('"type": "done"') || text.includes('"type":"done"')) {
      this.finish(now, false);
    } else if (text.includes('"type": "error"') || text.includes('"type":"error"')) {
      this.finish(now, true, text.slice(0, 300));
    }
  }

  finish(now, failed, why) {
    const turn = this.turn;
    this.turn = null;
    turn.doneAt = now;
    turn.failed = failed;
    if (why) turn.why = why;
    if (turn.conversationId && this.protocol === 'socket.io')
      this.ws.send(`42${NS},["leave",{"conversation_id":"${turn.conversationId}"}]`);
    session.onTurnEnd(turn, this);
  }

  startTurn(message) {
    const ack = this.nextAck++;
    this.turn = { startedAt: performance.now(), firstAt: 0, deltas: 0, lastDeltaAt: 0, failed: false };
    if (this.protocol === 'ws-json') this.ws.send(JSON.stringify({ message }));
    else this.ws.send(`42${NS},${ack}${JSON.stringify(['message', { message }])}`);
  }
}

async function connect(msg) {
  const startedAt = performance.now();
  const perTick = Math.max(1, Math.round(msg.rate / 100));
  const opening = [];
  for (let i = 0; i < msg.count; i += perTick) {
    for (let k = i; k < Math.min(msg.count, i + perTick); k++) {
      const client = new Client(msg.url, msg.token, msg.localAddress, msg.protocol);
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

/**
 * A burst: every connected client starts one streamed turn in the same tick (a page of users pressing Send at
 * once); resolves when every turn has ended or `timeoutMs` passed. First token is timed from each client's send.
 */
function burst(msg) {
  return new Promise((resolve) => {
    const active = clients.filter((c) => c.connected);
    const firstToken = [];
    const turnMs = [];
    const errors = [];
    let failedTurns = 0;
    let shortTurns = 0;
    let pending = active.length;
    const finish = () => {
      clearTimeout(timer);
      session = null;
      resolve({
        clients: active.length,
        failedTurns,
        shortTurns,
        unfinished: pending,
        errors,
        firstTokenMs: firstToken,
        turnMs,
      });
    };
    session = {
      onDelta() {},
      onTurnEnd(turn) {
        pending -= 1;
        if (turn.failed) {
          failedTurns += 1;
          if (errors.length < 5) errors.push(turn.why || 'failed');
        } else {
          if (turn.firstAt) firstToken.push(turn.firstAt - turn.startedAt);
          turnMs.push(turn.doneAt - turn.startedAt);
          if (turn.deltas !== msg.tokens) shortTurns += 1;
        }
        if (pending === 0) finish();
      },
    };
    const timer = setTimeout(finish, msg.timeoutMs);
    if (!active.length) return finish();
    for (const client of active) client.startTurn(msg.message);
  });
}

/**
 * Resume: every connected client runs `rounds` streamed turns. In each it drops its connection after a random
 * number of deltas (between `dropFrom` and `dropTo` of the reply), stays away `offlineMs`, opens a new
 * connection and sends `join {conversation_id, after_seq}` with the `seq` of the last event it received. Timed:
 * from opening the new connection (and from sending `join`) to the first event after it. Checked: the text of
 * both connections together is the whole answer, each `seq` comes once and in order with no gap, and
 * (`storedCheck`) the answer stored in the conversation is that text.
 */
async function resume(msg) {
  const active = clients.filter((c) => c.connected);
  const resumeMs = [];
  const joinToFirstMs = [];
  const joinAckMs = [];
  const replayed = [];
  const failures = [];
  const counts = { turns: 0, ok: 0, failed: 0, noReplay: 0 };
  /** Turns with each kind of problem: failed, truncated, repeatedSeq, gap, wrongText, noDrop, unparsable. */
  const problems = {};
  const finished = [];
  const fail = (turn, kind, why) => {
    turn.problems.push(kind);
    if (failures.length < 10) failures.push(`${kind}: ${String(why).slice(0, 300)}`);
  };

  const oneTurn = (client) =>
    new Promise((resolve) => {
      const turn = {
        conversationId: null,
        lastSeq: -1,
        text: '',
        deltas: 0,
        dropAfter: Math.round(msg.tokens * (msg.dropFrom + Math.random() * (msg.dropTo - msg.dropFrom))),
        phase: 'streaming', // → 'offline' → 'joining' → 'resumed'
        reconnectAt: 0,
        joinAt: 0,
        joinAck: 0,
        problems: [],
      };
      let ended = false;
      const end = (why) => {
        if (ended) return;
        ended = true;
        clearTimeout(timeout);
        client.listener = null;
        if (why) fail(turn, 'failed', why);
        counts.turns += 1;
        if (turn.problems.length) counts.failed += 1;
        else counts.ok += 1;
        if (turn.conversationId && client.connected) {
          client.ws.send(`42${NS},${JSON.stringify(['leave', { conversation_id: turn.conversationId }])}`);
        }
        finished.push(turn);
        resolve();
      };
      const timeout = setTimeout(
        () => end(`no done within ${msg.timeoutMs} ms (phase ${turn.phase})`),
        msg.timeoutMs,
      );
      const messageAck = client.nextAck++;
      let joinAck = -1;

      const drop = () => {
        turn.phase = 'offline';
        turn.droppedAtSeq = turn.lastSeq;
        client.connected = false;
        client.ws.terminate();
        setTimeout(rejoin, msg.offlineMs);
      };
      const rejoin = async () => {
        if (ended) return;
        turn.reconnectAt = performance.now();
        const ok = await client.open();
        if (ended) return;
        if (!ok) return end(`reconnect failed: ${client.failure}`);
        turn.phase = 'joining';
        joinAck = client.nextAck++;
        turn.joinAt = performance.now();
        const join = { conversation_id: turn.conversationId, after_seq: turn.droppedAtSeq };
        client.ws.send(`42${NS},${joinAck}${JSON.stringify(['join', join])}`);
      };

      client.listener = (text) => {
        let packet;
        try {
          packet = socketPacket(text, NS);
        } catch (error) {
          return fail(turn, 'unparsable', `${error.message}: ${text.slice(0, 200)}`);
        }
        if (!packet) return;
        const now = performance.now();
        if (packet.type === 'ack') {
          const answer = packet.answer || {};
          if (answer.error)
            return end(
              `${packet.id === joinAck ? 'join' : 'message'} refused: ${JSON.stringify(answer.error)}`,
            );
          if (packet.id === messageAck) turn.conversationId ??= answer.conversation_id;
          else if (packet.id === joinAck) {
            turn.joinAck = now - turn.joinAt;
            turn.replayed = answer.replayed;
            if (answer.truncated) fail(turn, 'truncated', JSON.stringify(answer));
          }
          return;
        }
        const payload = packet.payload || {};
        if (packet.name === 'error') return end(`error event: ${JSON.stringify(payload)}`);
        if (typeof payload.seq !== 'number') return;
        if (turn.phase === 'offline') return; // `after_seq` is fixed at the drop: what was in flight is not this turn's
        if (turn.phase === 'joining') {
          turn.phase = 'resumed';
          resumeMs.push(now - turn.reconnectAt);
          joinToFirstMs.push(now - turn.joinAt);
        }
        turn.conversationId ??= payload.conversation_id;
        if (payload.seq <= turn.lastSeq)
          fail(turn, 'repeatedSeq', `seq ${payload.seq} after ${turn.lastSeq}`);
        else if (turn.lastSeq >= 0 && payload.seq !== turn.lastSeq + 1) {
          fail(turn, 'gap', `seq ${payload.seq} after ${turn.lastSeq}`);
        }
        if (payload.seq > turn.lastSeq) turn.lastSeq = payload.seq;
        if (packet.name === 'text') {
          turn.text += payload.content;
          turn.deltas += 1;
          if (turn.phase === 'streaming' && turn.deltas >= turn.dropAfter) drop();
        } else if (packet.name === 'done') {
          if (turn.phase !== 'resumed')
            fail(turn, 'noDrop', `done after ${turn.deltas} deltas, before the drop`);
          if (turn.text !== msg.expectedText) {
            fail(turn, 'wrongText', `${turn.text.length} characters, expected ${msg.expectedText.length}`);
          }
          end();
        }
      };
      client.ws.send(`42${NS},${messageAck}${JSON.stringify(['message', { message: msg.message }])}`);
    });

  const startedAt = performance.now();
  await Promise.all(
    active.map(async (client) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * msg.turnMs));
      for (let round = 0; round < msg.rounds; round += 1) {
        if (!client.connected && !(await client.open())) {
          counts.turns += 1;
          counts.failed += 1;
          if (failures.length < 10) failures.push(`connect failed: ${client.failure}`);
          continue;
        }
        await oneTurn(client);
      }
    }),
  );
  const seconds = (performance.now() - startedAt) / 1000;
  for (const turn of finished) {
    if (turn.replayed !== undefined) replayed.push(turn.replayed);
    if (turn.replayed === 0) counts.noReplay += 1;
    if (turn.joinAck) joinAckMs.push(turn.joinAck);
    for (const kind of new Set(turn.problems)) problems[kind] = (problems[kind] ?? 0) + 1;
  }
  lastResume = { finished, failures };
  return {
    clients: active.length,
    seconds,
    counts,
    problems,
    failures,
    resumeMs,
    joinToFirstMs,
    joinAckMs,
    replayed,
  };
}

/**
 * After a resume run: the answer each of its conversations stored (the last assistant message's text) against
 * what the socket received.
 */
async function storedAnswers(msg) {
  const finished = lastResume?.finished ?? [];
  const result = { checked: 0, mismatched: 0, failures: [] };
  const queue = finished.filter((t) => t.conversationId && !t.problems.length);
  const worker = async () => {
    for (let turn = queue.shift(); turn; turn = queue.shift()) {
      const res = await fetch(`${msg.httpUrl}/v1/conversations/${turn.conversationId}`, {
        headers: { authorization: `Bearer ${msg.token}` },
      });
      const body = await res.json();
      const answer = (body.messages || []).filter((m) => m.role === 'assistant').at(-1);
      const text =
        typeof answer?.content === 'string'
          ? answer.content
          : (answer?.content || [])
              .filter((b) => b.type === 'text')
              .map((b) => b.text)
              .join('');
      result.checked += 1;
      if (res.status !== 200 || text !== turn.text) {
        result.mismatched += 1;
        if (result.failures.length < 5)
          result.failures.push(
            `stored answer differs (${res.status}): ${JSON.stringify(text).slice(0, 120)}`,
          );
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return result;
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

serve({
  connect,
  stream,
  burst,
  resume,
  storedAnswers,
  close: closeAll,
  count: () => clients.filter((c) => c.connected).length,
});
exitWithParent();
