// Preloaded (`node --require bench/lib/probe.js`) into the app, the worker and the baselines: lets the bench
// read the process's heap after a GC and take CPU profiles of one scenario, without touching the code
// under test. Inert unless the process was forked with an IPC channel.
'use strict';
const fs = require('node:fs');
const inspector = require('node:inspector');

if (process.send) {
  let session;
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );

  const handlers = {
    async mem(msg) {
      if (msg.gc && typeof global.gc === 'function') {
        for (let i = 0; i < 3; i++) {
          global.gc();
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      return { ...process.memoryUsage(), cpu: process.cpuUsage() };
    },
    async 'heap-snapshot'(msg) {
      if (typeof global.gc === 'function') global.gc();
      return require('node:v8').writeHeapSnapshot(msg.file);
    },
    async 'profile-start'(msg) {
      session = new inspector.Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: msg.intervalUs || 200 });
      await post('Profiler.start');
      return true;
    },
    async 'profile-stop'(msg) {
      if (!session) return false;
      const { profile } = await post('Profiler.stop');
      session.disconnect();
      session = undefined;
      fs.writeFileSync(msg.file, JSON.stringify(profile));
      return msg.file;
    },
  };

  process.on('message', async (msg) => {
    if (!msg || msg.bench !== true || !handlers[msg.cmd]) return;
    try {
      process.send({ reply: msg.id, result: await handlers[msg.cmd](msg) });
    } catch (error) {
      process.send({ reply: msg.id, error: String(error && error.stack ? error.stack : error) });
    }
  });
  // An interrupted bench must not leave a server behind: shut down like on SIGTERM, then for good.
  process.on('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    setTimeout(() => process.exit(0), 5_000).unref();
  });
  // The IPC channel must not keep a process alive that would otherwise exit.
  process.channel?.unref();
}
