// Child processes of a bench run (each its own process: provider, app, baselines, load generators),
// their CPU and memory read from /proc, and a small request/answer protocol over the IPC channel.
'use strict';
const { fork } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const TICKS_PER_SECOND = 100; // CLK_TCK on Linux
const running = new Set();

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Forks a Node script with an IPC channel; output goes to `<logDir>/<name>.log`. `nodeArgs` are flags for
 * node itself (e.g. --require for the probe).
 */
function start(name, script, { args = [], env = {}, nodeArgs = [], logDir, cwd } = {}) {
  fs.mkdirSync(logDir, { recursive: true });
  const log = fs.openSync(path.join(logDir, `${name}.log`), 'a');
  const child = fork(script, args, {
    cwd,
    env: { ...process.env, ...env },
    execArgv: nodeArgs,
    stdio: ['ignore', log, log, 'ipc'],
  });
  fs.closeSync(log);
  const handle = new Child(name, child);
  running.add(handle);
  child.once('exit', () => running.delete(handle));
  return handle;
}

class Child {
  constructor(name, child) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.nextId = 1;
    this.pending = new Map();
    this.messages = [];
    this.waiters = new Set();
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.on('message', (msg) => {
      if (msg && msg.reply !== undefined && this.pending.has(msg.reply)) {
        const { resolve, reject } = this.pending.get(msg.reply);
        this.pending.delete(msg.reply);
        if (msg.error) reject(new Error(`${name}: ${msg.error}`));
        else resolve(msg.result);
        return;
      }
      this.messages.push(msg);
      for (const wake of [...this.waiters]) wake();
    });
    child.once('exit', (code, signal) => {
      for (const { reject } of this.pending.values()) reject(new Error(`${name} exited (${code ?? signal})`));
      this.pending.clear();
      for (const wake of [...this.waiters]) wake();
    });
  }

  get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a command the child answers with `{reply: id, result | error}`. */
  call(cmd, payload = {}, timeoutMs = 120_000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no answer to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      this.child.send({ bench: true, id, cmd, ...payload });
    });
  }

  /** Resolves with the first message (not a reply) matching `predicate`. */
  waitFor(predicate, timeoutMs = 60_000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find(predicate);
        if (found) {
          cleanup();
          resolve(found);
        } else if (!this.alive) {
          cleanup();
          reject(new Error(`${this.name} exited before it was ready (see its log)`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.name}: nothing matching within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000) {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.alive && this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Seconds of CPU (user + system) a process has used so far; NaN once it is gone. With `children`, plus what
 * its exited children used (how PostgreSQL backends that came and went during a run are still counted).
 */
function cpuSeconds(pid, { children = false } = {}) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    const reaped = children ? Number(fields[13]) + Number(fields[14]) : 0;
    return (own + reaped) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Read and write system calls a process has made so far (/proc/<pid>/io): socket I/O, mostly. */
function syscalls(pid) {
  try {
    const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/syscr: (\d+)/.exec(io)[1]), writes: Number(/syscw: (\d+)/.exec(io)[1]) };
  } catch {
    return { reads: NaN, writes: NaN };
  }
}

function rssBytes(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) * 1024;
  } catch {
    return NaN;
  }
}

/** Busy and total jiffies of the whole machine, for "how saturated was it" figures. */
function machineTicks() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + v[4];
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** PIDs of processes whose command name is `comm` (e.g. postgres), for their CPU share. */
function pidsNamed(comm) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** CPU meter over a set of pids (and the machine) between `begin()` and `end()`. */
class CpuMeter {
  constructor(pidsByName) {
    this.pidsByName = pidsByName;
  }

  /** A group given as a function is enumerated again at each read, its processes' exited children included. */
  read() {
    const out = {};
    for (const [name, group] of Object.entries(this.pidsByName)) {
      const dynamic = typeof group === 'function';
      const pids = dynamic ? group() : group;
      out[name] = pids.reduce((sum, pid) => {
        const s = cpuSeconds(pid, { children: dynamic });
        return Number.isFinite(s) ? sum + s : sum;
      }, 0);
    }
    return out;
  }

  begin() {
    this.startedAt = performance.now();
    this.start = this.read();
    this.ioStart = syscalls(this.pidsByName.target[0]);
    this.machineStart = machineTicks();
  }

  /** CPU seconds per process group, and the machine's busy share (1 = every core busy). */
  end() {
    const wallSeconds = (performance.now() - this.startedAt) / 1000;
    const now = this.read();
    const machine = machineTicks();
    const cpu = {};
    for (const name of Object.keys(now)) cpu[name] = now[name] - this.start[name];
    const busy = (machine.busy - this.machineStart.busy) / (machine.total - this.machineStart.total || 1);
    const io = syscalls(this.pidsByName.target[0]);
    const targetSyscalls = { reads: io.reads - this.ioStart.reads, writes: io.writes - this.ioStart.writes };
    // What the machine did besides the bench's own processes (other users' work): the noise floor of a run.
    const cores = require('node:os').cpus().length;
    const ownCpu = cpu.all ?? 0;
    const otherCores = Math.max(0, busy * cores - ownCpu / wallSeconds);
    return { wallSeconds, cpu, machineBusy: busy, targetSyscalls, otherCores };
  }
}

/** PIDs of every process the bench started that still runs. */
function runningPids() {
  return [...running].filter((c) => c.alive).map((c) => c.pid);
}

async function stopAll() {
  await Promise.all([...running].map((c) => c.stop(5_000).catch(() => undefined)));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `url` until it answers 2xx. */
async function waitForHttp(url, timeoutMs = 60_000, child) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not yet listening
    }
    if (child && !child.alive) throw new Error(`${child.name} exited during start-up (see its log)`);
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

module.exports = {
  freePort,
  start,
  cpuSeconds,
  rssBytes,
  syscalls,
  machineTicks,
  pidsNamed,
  CpuMeter,
  stopAll,
  runningPids,
  sleep,
  waitForHttp,
};
