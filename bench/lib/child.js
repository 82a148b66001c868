// The child side of the IPC protocol in lib/proc.js: `serve({cmd: handler})` answers the parent's calls.
'use strict';

function serve(handlers) {
  process.on('message', async (msg) => {
    if (!msg || msg.bench !== true) return;
    const handler = handlers[msg.cmd];
    if (!handler) return;
    try {
      const result = await handler(msg);
      process.send({ reply: msg.id, result: result ?? null });
    } catch (error) {
      process.send({ reply: msg.id, error: error && error.stack ? error.stack : String(error) });
    }
  });
}

/** Tells the parent this child is ready (with whatever it needs to know, e.g. its port). */
function ready(info = {}) {
  process.send({ type: 'ready', ...info });
}

/** Exits when the parent goes away, so an interrupted bench leaves no processes behind. */
function exitWithParent() {
  process.on('disconnect', () => process.exit(0));
}

module.exports = { serve, ready, exitWithParent };
