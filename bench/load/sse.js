// SSE load: N clients, each running POST /v1/chat/stream turns back to back over a kept-alive connection,
// timing the first `event: text` frame and counting every delta.
'use strict';
const http = require('node:http');
const { serve, exitWithParent } = require('../lib/child');
const { Samples, summarize } = require('../lib/stats');
const { sseEvent } = require('../lib/frames');

function stream(msg) {
  const url = new URL(msg.url);
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: msg.clients,
    localAddress: msg.localAddress,
  });
  // Against the app or a baseline by default; straight to the provider (calibration) with `msg.direct`.
  const direct = msg.direct;
  const body = JSON.stringify(direct ? direct.body : { message: msg.message });
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(direct ? direct.headers : { authorization: `Bearer ${msg.token}` }),
  };
  const requestPath = direct ? '/v1/messages' : '/v1/chat/stream';
  // The app's frames start with `id: <seq>`; the provider's and the baselines' have no id.
  const textEvent = direct ? 'content_block_delta' : 'text';
  const doneEvent = direct ? 'message_stop' : 'done';
  return new Promise((resolve) => {
    const t0 = performance.now();
    const measureFrom = t0 + msg.warmupMs;
    const measureTo = measureFrom + msg.windowMs;
    const firstToken = new Samples(1 << 14);
    const gaps = new Samples(1 << 16);
    const errors = [];
    let measuredTurns = 0;
    let failedTurns = 0;
    let shortTurns = 0;
    let deltasInWindow = 0;
    let inFlight = 0;
    let stopping = false;
    let finished = false;
    let gapTick = 0;

    const end = (turn) => {
      inFlight -= 1;
      if (turn.startedAt >= measureFrom && turn.startedAt < measureTo) {
        measuredTurns += 1;
        if (turn.failed || !turn.done) {
          failedTurns += 1;
          if (errors.length < 5) errors.push(turn.why || 'no done event');
        } else {
          if (turn.firstAt) firstToken.push(turn.firstAt - turn.startedAt);
          if (turn.deltas !== msg.tokens) shortTurns += 1;
        }
      }
      if (!stopping) run();
      else if (inFlight === 0) finish();
    };

    const run = () => {
      inFlight += 1;
      const turn = {
        startedAt: performance.now(),
        firstAt: 0,
        lastAt: 0,
        deltas: 0,
        done: false,
        failed: false,
      };
      const req = http.request(
        { host: url.hostname, port: url.port, path: requestPath, method: 'POST', agent, headers },
        (res) => {
          if (res.statusCode !== 200) {
            turn.failed = true;
            turn.why = `status ${res.statusCode}`;
          }
          res.setEncoding('utf8');
          let buffer = '';
          res.on('data', (chunk) => {
            buffer += chunk;
            let cut;
            while ((cut = buffer.indexOf('\n\n')) !== -1) {
              const frame = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              const name = sseEvent(frame);
              if (name === textEvent) {
                const now = performance.now();
                if (!turn.firstAt) turn.firstAt = now;
                turn.deltas += 1;
                if (now >= measureFrom && now < measureTo) {
                  deltasInWindow += 1;
                  if (turn.lastAt && (gapTick++ & 7) === 0) gaps.push(now - turn.lastAt);
                }
                turn.lastAt = now;
              } else if (name === doneEvent) turn.done = true;
              else if (name === 'error') {
                turn.failed = true;
                turn.why = frame.slice(0, 300);
              }
            }
          });
          res.on('end', () => end(turn));
          res.on('error', (error) => {
            turn.failed = true;
            turn.why = error.message;
          });
        },
      );
      req.on('error', (error) => {
        turn.failed = true;
        turn.why = error.message;
        end(turn);
      });
      req.end(body);
    };

    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(hardStop);
      agent.destroy();
      resolve({
        clients: msg.clients,
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
    for (let i = 0; i < msg.clients; i++) setTimeout(() => !stopping && run(), Math.random() * msg.turnMs);
    const hardStop = setTimeout(finish, msg.warmupMs + msg.windowMs + msg.turnMs * 3 + 10_000);
    setTimeout(() => {
      stopping = true;
      if (inFlight === 0) finish();
    }, msg.warmupMs + msg.windowMs);
  });
}

serve({ stream });
exitWithParent();
