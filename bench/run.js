// `npm run bench`: builds the production bundle, starts the fake provider, the app (production mode, logs at
// warn), the app without persistence and the two bare baselines as separate processes, drives every
// scenario from separate load-generator processes, and writes the table, bench/results/ and BENCHMARKS.md.
// BENCH_QUICK=1 for a short run; see BENCHMARKS.md for every setting.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const Redis = require('ioredis');
const proc = require('./lib/proc');
const { directive, nominalFirstTokenMs, replyText } = require('./lib/directive');
const report = require('./lib/report');
const { round, summarize } = require('./lib/stats');
const { readCommandStats, diffCommandStats, perUnit } = require('./lib/redis-stats');
const { cacheFigures, driveConversation } = require('./lib/long-conversation');

const ROOT = path.join(__dirname, '..');
const BUILD = path.join(__dirname, '.build');
const LOGS = path.join(BUILD, 'logs');
const RESULTS = path.join(__dirname, 'results');
const PROFILES = path.join(RESULTS, 'profiles');
const env = process.env;
const QUICK = env.BENCH_QUICK === '1';
const num = (name, fallback) => (env[name] !== undefined && env[name] !== '' ? Number(env[name]) : fallback);
const list = (name, fallback) => (env[name] ? env[name].split(',').map(Number) : fallback);

const FD_LIMIT = Number(execFileSync('bash', ['-c', 'ulimit -n']).toString().trim()) || 1024;
const config = {
  quick: QUICK,
  restSeconds: num('BENCH_DURATION', QUICK ? 1 : 7),
  restSecondsOneClient: num('BENCH_DURATION_ONE', QUICK ? 1 : 5),
  restWarmupSeconds: num('BENCH_WARMUP', QUICK ? 0.5 : 2),
  restClients: list('BENCH_CLIENTS', [1, 100]),
  providerLatencies: list('BENCH_LATENCIES', [0, 200]),
  restTokens: 16,
  tokensPerSecond: 50,
  streamTurnMs: num('BENCH_STREAM_TURN_MS', 2_000),
  streamWindowMs: num('BENCH_STREAM_WINDOW_MS', QUICK ? 4_000 : 10_000),
  socketSteps: list('BENCH_SOCKET_STEPS', QUICK ? [100, 500] : [100, 250, 500, 1000, 2000, 3000]),
  ttftBudgetMs: 25,
  sseClients: num('BENCH_SSE_CLIENTS', QUICK ? 300 : 1000),
  resumeClients: num('BENCH_RESUME_CLIENTS', QUICK ? 40 : 100),
  resumeRounds: num('BENCH_RESUME_ROUNDS', QUICK ? 1 : 3),
  resumeOfflineMs: num('BENCH_RESUME_OFFLINE_MS', 250),
  idleCounts: list('BENCH_IDLE', QUICK ? [2_000, 5_000] : [10_000, 50_000]),
  loadProcesses: num('BENCH_LOAD_PROCS', 2),
  idleLoadProcesses: num('BENCH_IDLE_PROCS', 4),
  connectRate: num('BENCH_CONNECT_RATE', 2_000),
  bullJobs: num('BENCH_BULL_JOBS', QUICK ? 5_000 : 20_000),
  agentTasks: num('BENCH_TASKS', QUICK ? 500 : 2_000),
  taskConcurrency: num('BENCH_TASK_CONCURRENCY', 32),
  cacheTurns: num('BENCH_CACHE_TURNS', 10),
  cacheTools: num('BENCH_CACHE_TOOLS', 3),
  cacheLongTurns: num('BENCH_CACHE_LONG_TURNS', QUICK ? 20 : 40),
  cacheLongTools: num('BENCH_CACHE_LONG_TOOLS', QUICK ? 5 : 10),
  burstCounts: list('BENCH_BURST', QUICK ? [200] : [200, 1000]),
  burstTimeoutMs: num('BENCH_BURST_TIMEOUT_MS', 60_000),
  python: env.BENCH_PYTHON_DESIGN !== '0',
  profile: env.BENCH_PROFILE === '1',
  fdLimit: FD_LIMIT,
};
const scenarios = new Set(
  (env.BENCH_ONLY || 'rest,tools,sockets,sse,burst,resume,idle,bull,cache').split(','),
);
const API_KEY = 'ak_live_bench_0000000000000000000000000000000000000';
const TENANT = 'bench';
const log = (...parts) =>
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${parts.join(' ')}\n`);

// ---------------------------------------------------------------------------------------------- set-up

/**
 * The production bundle, built by the package's own `build` script with its output moved from dist/ to
 * bench/.build/dist, so a bench never deletes the dist/ a developer or a running test is using.
 */
function build(distDir) {
  if (env.BENCH_SKIP_BUILD !== '1') {
    const script = require(path.join(ROOT, 'package.json')).scripts.build;
    const relative = path.relative(ROOT, distDir);
    const command = script.replace(/(^|\s)dist(?=\s|$)/g, `$1${relative}`);
    log(`building the production bundle: ${command}`);
    execFileSync('bash', ['-c', command], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...env, PATH: `${path.join(ROOT, 'node_modules/.bin')}:${env.PATH}` },
    });
  }
  fs.mkdirSync(BUILD, { recursive: true });
  execFileSync(
    path.join(ROOT, 'node_modules/.bin/swc'),
    ['test/support/fake-anthropic.ts', '-o', path.join(BUILD, 'fake-anthropic.js'), '--quiet'],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (!fs.existsSync(path.join(distDir, 'apps/api/src/main.js'))) {
    throw new Error(`${distDir} has no apps/api/src/main.js: run without BENCH_SKIP_BUILD`);
  }
}

/** A private Redis, so the bench counts only its own commands and never touches the shared one's data. */
async function startRedis() {
  if (env.BENCH_REDIS_URL) return { url: env.BENCH_REDIS_URL, pid: null, stop: async () => undefined };
  const port = await proc.freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxclients',
      '60000',
    ],
    { stdio: ['ignore', fs.openSync(path.join(LOGS, 'redis.log'), 'a'), 'inherit'] },
  );
  const spawned = new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(
        new Error(`redis-server could not be started (${error.message}): install it or set BENCH_REDIS_URL`),
      ),
    );
  });
  await spawned;
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  for (let i = 0; i < 50; i++) {
    try {
      await client.connect();
      break;
    } catch {
      await proc.sleep(100);
    }
  }
  await client.ping();
  client.disconnect();
  return {
    url,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

async function resetDatabase(url) {
  const target = new URL(url);
  const name = target.pathname.slice(1);
  target.pathname = '/postgres';
  const admin = new Client({ connectionString: target.toString() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    const version = await admin.query('SHOW server_version');
    return version.rows[0].server_version;
  } finally {
    await admin.end();
  }
}

/** Each server's CPU while nothing is asked of it (timers, pings, pollers): what CPU per turn includes. */
async function idleCpu(servers) {
  await proc.sleep(2_000);
  const before = servers.map((s) => proc.cpuSeconds(s.pid));
  const startedAt = performance.now();
  await proc.sleep(4_000);
  const seconds = (performance.now() - startedAt) / 1000;
  return Object.fromEntries(
    servers.map((s, i) => [s.name, round((proc.cpuSeconds(s.pid) - before[i]) / seconds, 3)]),
  );
}

async function redisCalls(redis) {
  return (await readCommandStats(redis)).total;
}

// ---------------------------------------------------------------------------------------------- servers

const EXPERIMENTS = (env.BENCH_EXPERIMENT || '').split(',').filter(Boolean);

/** The probe, then any experiment preloads (app processes only), then `extra`. */
function nodeArgs(extra = [], { experiment = false } = {}) {
  const experiments = experiment
    ? EXPERIMENTS.flatMap((name) => ['--require', path.join(__dirname, 'experiments', `${name}.js`)])
    : [];
  return ['--require', path.join(__dirname, 'lib/probe.js'), '--expose-gc', ...experiments, ...extra];
}

async function startApp(name, distDir, shared, { memory = false, experiment = false } = {}) {
  const port = await proc.freePort();
  const runDir = path.join(BUILD, 'run', name);
  fs.mkdirSync(runDir, { recursive: true });
  const child = proc.start(name, path.join(distDir, 'apps/api/src/main.js'), {
    cwd: runDir,
    logDir: LOGS,
    nodeArgs: nodeArgs(memory ? ['--require', path.join(__dirname, 'lib/memory-store.js')] : [], {
      experiment,
    }),
    env: { ...shared.appEnv, PORT: String(port), BENCH_DIST: distDir },
  });
  const url = `http://127.0.0.1:${port}`;
  await proc.waitForHttp(`${url}/health/live`, 90_000, child);
  return { name, child, url, pid: child.pid, kind: memory ? 'app-memory' : 'app', experiment };
}

async function startBaseline(name, client, shared) {
  const child = proc.start(name, path.join(__dirname, 'servers/baseline.js'), {
    logDir: LOGS,
    nodeArgs: nodeArgs(),
    env: {
      BASELINE_CLIENT: client,
      PROVIDER_URL: shared.providerUrl,
      BENCH_API_KEY: API_KEY,
      BENCH_REQUEST_SHAPE: shared.shapeFile,
    },
  });
  const { port } = await child.waitFor((m) => m.type === 'ready');
  return { name, child, url: `http://127.0.0.1:${port}`, pid: child.pid, kind: 'baseline' };
}

const PYTHON_MODULES = ['fastapi', 'uvicorn', 'httpx', 'asyncpg', 'uvloop', 'httptools', 'websockets'];
const PYTHON_PACKAGES = PYTHON_MODULES.map((m) => `python3-${m}`);

function pythonReady() {
  try {
    execFileSync(env.BENCH_PYTHON || '/usr/bin/python3', ['-c', `import ${PYTHON_MODULES.join(', ')}`], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * The Python design needs Debian's FastAPI stack for /usr/bin/python3: installed with apt-get when missing (as
 * root), else the bench goes on without it and says so.
 */
function ensurePython() {
  if (pythonReady()) return true;
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  log(`the Python design needs ${PYTHON_PACKAGES.join(' ')}${asRoot ? ': installing them' : ''}`);
  if (asRoot) {
    try {
      execFileSync(
        'bash',
        ['-c', `apt-get update -qq && apt-get install -y -qq ${PYTHON_PACKAGES.join(' ')}`],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
        },
      );
    } catch (error) {
      log(`  apt-get failed: ${error.message.split('\n')[0]}`);
    }
  }
  if (pythonReady()) return true;
  log('  the Python design is not measured in this run (its packages are missing)');
  return false;
}

async function startPythonDesign(shared) {
  const databaseUrl = shared.databaseUrl.replace(/\/[^/]*$/, '/agent_backend_bench_python');
  await resetDatabase(databaseUrl);
  const admin = new Client({ connectionString: databaseUrl.replace(/\/[^/]*$/, '/postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE agent_backend_bench_python').finally(() => admin.end());
  const child = proc.start('python-design', path.join(__dirname, 'servers/python-design.js'), {
    logDir: LOGS,
    env: {
      PROVIDER_URL: shared.providerUrl,
      PEER_DATABASE_URL: databaseUrl.replace(/^postgres:/, 'postgresql:'),
    },
  });
  const { port, pid } = await child.waitFor((m) => m.type === 'ready', 90_000);
  return { name: 'python-design', child, url: `http://127.0.0.1:${port}`, pid, kind: 'python' };
}

/** What the app sends the provider (model, prompt, tools), so the baselines and direct calls send the same. */
async function requestShape(app) {
  const res = await fetch(`${app.url}/v1/agents/support`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  if (!res.ok) throw new Error(`GET /v1/agents/support answered ${res.status}: ${await res.text()}`);
  const agent = await res.json();
  return {
    model: agent.model,
    maxTokens: agent.max_tokens,
    system: agent.system_prompt,
    tools: agent.tools.map((t) => ({
      name: t.name,
      description: t.description,
      input_schema: t.input_schema,
    })),
  };
}

function loadProcess(name, script) {
  return proc.start(name, path.join(__dirname, 'load', script), {
    logDir: LOGS,
    nodeArgs: ['--max-old-space-size=4096'],
  });
}

async function withProfile(server, label, fn) {
  if (!config.profile || !server.child) return fn();
  fs.mkdirSync(PROFILES, { recursive: true });
  await server.child.call('profile-start', { intervalUs: 250 });
  try {
    return await fn();
  } finally {
    const file = path.join(PROFILES, `${label}.cpuprofile`);
    await server.child.call('profile-stop', { file });
    log(`  profile: ${path.relative(ROOT, file)}`);
  }
}

// ---------------------------------------------------------------------------------------------- scenarios

let restRunSeq = 0;

/** One closed-loop autocannon run against a target; CPU measured over the measured part only. */
async function restRun(shared, target, spec) {
  const load = shared.restLoad;
  const isDirect = target.kind === 'provider';
  const message = directive({ firstByteMs: spec.latencyMs, tokens: config.restTokens, tool: spec.tool });
  const opts = isDirect
    ? {
        url: `${target.url}/v1/messages`,
        headers: {
          'content-type': 'application/json',
          'x-api-key': 'sk-ant-bench',
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({
          model: shared.shape.model,
          max_tokens: shared.shape.maxTokens,
          system: shared.shape.system,
          tools: shared.shape.tools,
          messages: [{ role: 'user', content: message }],
          stream: true,
        }),
        connections: spec.clients,
      }
    : {
        url: chatUrl(target),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify({ message }),
        connections: spec.clients,
      };
  if (!isDirect) await smokeTurn(target, message, spec.tool);
  const seconds = spec.clients === 1 ? config.restSecondsOneClient : config.restSeconds;
  // One load run: the warm-up, then the measured part on the same connections (see load/rest.js).
  const run = (restRunSeq += 1);
  const measuring = load.waitFor(
    (m) => m.type === 'measuring' && m.run === run,
    (config.restWarmupSeconds + 60) * 1000,
  );
  const running = load.call(
    'run',
    { opts, seconds, warmupSeconds: config.restWarmupSeconds, run },
    (config.restWarmupSeconds + seconds + 120) * 1000,
  );
  await measuring;
  const meter = shared.meter(target.pid, load.pid);
  const commandsBefore = await readCommandStats(shared.redis);
  const providerBefore = await shared.fake.call('stats');
  meter.begin();
  const label = `rest-${spec.tool ? 'tool' : 'plain'}-${spec.latencyMs}ms-${spec.clients}c-${target.name}`;
  const result = await withProfile(target, label, () => running);
  const usage = meter.end();
  const commands = diffCommandStats(commandsBefore, await readCommandStats(shared.redis));
  const calls = commands.total;
  const providerAfter = await shared.fake.call('stats');
  const turns = result.ok;
  // RSS as the run left it (above), and what the process still holds after forced GCs: the live heap and the RSS
  // the heap's high-water mark leaves behind.
  const rssNow = target.kind === 'provider' ? null : proc.rssBytes(target.pid);
  const settled =
    target.kind === 'provider' || !target.child
      ? null
      : await target.child.call('mem', { gc: true }).catch(() => null);
  return {
    target: target.name,
    kind: target.kind,
    turns,
    turnsPerSecond: round(result.perSecond, 1),
    p50: round(result.latency.p50, 3),
    p90: round(result.latency.p90, 3),
    p99: round(result.latency.p99, 3),
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuMsPerTurn: round((usage.cpu.target * 1000) / Math.max(1, turns), 3),
    targetCpuCores: round(usage.cpu.target / usage.wallSeconds, 2),
    loadCpuCores: round(usage.cpu.load / usage.wallSeconds, 2),
    providerCpuCores: round(usage.cpu.provider / usage.wallSeconds, 2),
    postgresCpuMsPerTurn: round((usage.cpu.postgres * 1000) / Math.max(1, turns), 3),
    redisCpuMsPerTurn: round((usage.cpu.redis * 1000) / Math.max(1, turns), 3),
    redisCommandsPerTurn: target.kind.startsWith('app') ? round(calls / Math.max(1, turns), 2) : 0,
    rssMB: rssNow === null ? null : round(rssNow / 1024 ** 2, 1),
    rssAfterGcMB: settled ? round(settled.rss / 1024 ** 2, 1) : null,
    heapUsedAfterGcMB: settled ? round(settled.heapUsed / 1024 ** 2, 1) : null,
    redisPerTurn: target.kind.startsWith('app') ? perUnit(commands, turns) : null,
    writeSyscallsPerTurn: round(usage.targetSyscalls.writes / Math.max(1, turns), 1),
    readSyscallsPerTurn: round(usage.targetSyscalls.reads / Math.max(1, turns), 1),
    providerCallsPerTurn: round((providerAfter.served - providerBefore.served) / Math.max(1, turns), 2),
    providerConnectionsOpened: providerAfter.connections - providerBefore.connections,
    machineBusy: round(usage.machineBusy, 2),
    otherLoadCores: round(usage.otherCores, 2),
  };
}

/** The REST turn of a target: the app's and the baselines' `POST /v1/chat`, the Python design's `POST /chat/`. */
const chatUrl = (target) => (target.kind === 'python' ? `${target.url}/chat/` : `${target.url}/v1/chat`);

/** One real request before measuring: the target answers what the scenario expects, or the bench stops. */
async function smokeTurn(target, message, tool) {
  const res = await fetch(chatUrl(target), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ message }),
  });
  const body = await res.json();
  const expectedText = 'tok '.repeat(config.restTokens);
  if (
    res.status !== 200 ||
    body.response !== expectedText ||
    (body.tools_used || []).length !== (tool ? 1 : 0)
  ) {
    throw new Error(
      `${target.name} answered a smoke turn unexpectedly (${res.status}): ${JSON.stringify(body).slice(0, 400)}`,
    );
  }
}

async function restScenarios(shared, targets, tool, directRows = []) {
  const rows = [];
  for (const latencyMs of config.providerLatencies) {
    for (const clients of config.restClients) {
      const spec = { latencyMs, clients, tool };
      const group = [];
      const order = tool ? targets.filter((t) => t.kind !== 'provider') : targets;
      for (const target of order) {
        const row = await restRun(shared, target, spec);
        group.push({ scenario: tool ? 'rest-tool' : 'rest', latencyMs, clients, tool, ...row });
        log(
          `  ${tool ? 'tool ' : 'plain'} ${String(latencyMs).padStart(3)}ms ${String(clients).padStart(3)}c ${target.name.padEnd(16)}`,
          `${String(row.turnsPerSecond).padStart(8)}/s p50 ${row.p50} p99 ${row.p99} ms, cpu ${row.cpuMsPerTurn} ms/turn,`,
          `${row.writeSyscallsPerTurn} writes + ${row.readSyscallsPerTurn} reads/turn, ${row.redisCommandsPerTurn} Redis cmds/turn,`,
          `provider connections opened ${row.providerConnectionsOpened}`,
          row.non2xx || row.errors ? `non2xx ${row.non2xx} errors ${row.errors}` : '',
        );
      }
      // Added latency: over the provider's own answer time (two sequential calls for a tool loop).
      const direct = tool
        ? directRows.find((r) => r.kind === 'provider' && r.latencyMs === latencyMs && r.clients === clients)
        : group.find((r) => r.kind === 'provider');
      const calls = tool ? 2 : 1;
      for (const row of group) {
        if (row.kind === 'provider') continue;
        const providerP50 = direct ? direct.p50 * calls : NaN;
        const providerP99 = direct ? direct.p99 * calls : NaN;
        // No answer in the measured part (a starved machine): no latency, so nothing added either.
        row.addedP50 = row.p50 === null ? null : round(row.p50 - providerP50, 3);
        row.addedP99 = row.p99 === null ? null : round(row.p99 - providerP99, 3);
      }
      rows.push(...group);
    }
  }
  return rows;
}

function splitCount(total, parts) {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}

async function socketStep(shared, target, n) {
  const tokens = Math.round((config.streamTurnMs / 1000) * config.tokensPerSecond);
  const d = { firstByteMs: 0, eventDelayMs: 1000 / config.tokensPerSecond, tokens, tool: false };
  const loads = shared.socketLoads;
  const wsUrl = `${target.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
  const shares = splitCount(n, loads.length);
  const connected = await Promise.all(
    loads.map((load, i) =>
      load.call('connect', {
        url: wsUrl,
        token: API_KEY,
        count: shares[i],
        rate: config.connectRate / loads.length,
        localAddress: `127.0.0.${10 + i}`,
      }),
    ),
  );
  const ok = connected.reduce((s, c) => s + c.connected, 0);
  if (ok < n)
    log(`  only ${ok} of ${n} sockets connected: ${JSON.stringify(connected.map((c) => c.reasons))}`);
  const meter = shared.meter(
    target.pid,
    loads.map((l) => l.pid),
  );
  const window = measureWindow(shared, meter);
  const results = await withProfile(target, `sockets-${n}-${target.name}`, () =>
    Promise.all(
      loads.map((load) =>
        load.call(
          'stream',
          {
            message: directive(d),
            tokens,
            turnMs: config.streamTurnMs,
            warmupMs: config.streamTurnMs,
            windowMs: config.streamWindowMs,
          },
          config.streamTurnMs * 6 + config.streamWindowMs + 60_000,
        ),
      ),
    ),
  );
  const { usage, commands } = await window;
  await Promise.all(loads.map((load) => load.call('close')));
  return streamRow('sockets', target, n, ok, d, results, usage, commands);
}

/** CPU and Redis commands over the measuring window of a stream run (after one turn of warm-up). */
async function measureWindow(shared, meter) {
  await proc.sleep(config.streamTurnMs);
  const commandsBefore = await readCommandStats(shared.redis);
  meter.begin();
  await proc.sleep(config.streamWindowMs);
  const usage = meter.end();
  const commands = diffCommandStats(commandsBefore, await readCommandStats(shared.redis));
  return { usage, calls: commands.total, commands };
}

function mergeStreamResults(results) {
  const merged = {
    measuredTurns: 0,
    failedTurns: 0,
    shortTurns: 0,
    unfinished: 0,
    deltasPerSecond: 0,
    errors: [],
    firstTokenP50: [],
    firstTokenP99: [],
    gapP99: [],
  };
  for (const r of results) {
    merged.measuredTurns += r.measuredTurns;
    merged.failedTurns += r.failedTurns;
    merged.shortTurns += r.shortTurns;
    merged.unfinished += r.unfinished;
    merged.deltasPerSecond += r.deltasPerSecond;
    merged.errors.push(...r.errors);
  }
  return merged;
}

/**
 * First-token overhead = what the client saw minus when the provider was scripted to send the first token.
 * Percentiles are merged across load processes by taking the worst of them (conservative).
 */
function streamRow(scenario, target, n, connected, d, results, usage, commands) {
  const merged = mergeStreamResults(results);
  const calls = commands.total;
  const deltas = Math.max(1, merged.deltasPerSecond * usage.wallSeconds);
  const isApp = target.kind.startsWith('app');
  const nominal = nominalFirstTokenMs(d);
  const worst = (key, p) => Math.max(...results.map((r) => r[key][p]).filter(Number.isFinite));
  const turns = merged.measuredTurns;
  const seconds = usage.wallSeconds;
  return {
    scenario,
    target: target.name,
    kind: target.kind,
    clients: n,
    connected,
    turns,
    failedTurns: merged.failedTurns,
    shortTurns: merged.shortTurns,
    unfinished: merged.unfinished,
    errors: merged.errors.slice(0, 3),
    nominalFirstTokenMs: nominal,
    firstTokenP50: round(worst('firstTokenMs', 'p50'), 2),
    firstTokenP99: round(worst('firstTokenMs', 'p99'), 2),
    overheadP50: round(worst('firstTokenMs', 'p50') - nominal, 2),
    overheadP99: round(worst('firstTokenMs', 'p99') - nominal, 2),
    deltasPerSecond: round(merged.deltasPerSecond, 0),
    expectedDeltasPerSecond: n * config.tokensPerSecond,
    deltaGapP99: round(worst('deltaGapMs', 'p99'), 2),
    targetCpuCores: round(usage.cpu.target / seconds, 2),
    loadCpuCores: round(usage.cpu.load / seconds, 2),
    providerCpuCores: round(usage.cpu.provider / seconds, 2),
    redisCpuCores: round(usage.cpu.redis / seconds, 2),
    cpuUsPerDelta: round((usage.cpu.target * 1e6) / Math.max(1, merged.deltasPerSecond * seconds), 1),
    loadCpuUsPerDelta: round((usage.cpu.load * 1e6) / Math.max(1, merged.deltasPerSecond * seconds), 1),
    providerCpuUsPerDelta: round(
      (usage.cpu.provider * 1e6) / Math.max(1, merged.deltasPerSecond * seconds),
      1,
    ),
    writeSyscallsPerDelta: round(
      usage.targetSyscalls.writes / Math.max(1, merged.deltasPerSecond * seconds),
      2,
    ),
    redisCommandsPerDelta: isApp ? round(calls / deltas, 2) : 0,
    // Over the turns started in the window (about as many as ran in it).
    redisCommandsPerTurn: isApp ? round(calls / Math.max(1, turns), 1) : 0,
    redisPerDelta: isApp ? perUnit(commands, deltas, 4) : null,
    redisCpuUsPerDelta: round((usage.cpu.redis * 1e6) / deltas, 1),
    machineBusy: round(usage.machineBusy, 2),
    otherLoadCores: round(usage.otherCores, 2),
    pass: merged.failedTurns === 0 && worst('firstTokenMs', 'p99') - nominal <= config.ttftBudgetMs,
  };
}

async function socketScenarios(shared, list) {
  let targets = list;
  const rows = [];
  const calibrated = new Set();
  for (const target of targets) {
    for (const n of config.socketSteps) {
      if (n > config.fdLimit - 500) break;
      // The provider's own lateness at this many streams (its timers, this machine): the floor of any overhead.
      if (!calibrated.has(n)) {
        calibrated.add(n);
        const [calibration] = await sseScenario(shared, [shared.provider], n, 'sockets');
        rows.push(calibration);
      }
      const row = await socketStep(shared, target, n);
      rows.push(row);
      log(
        `  sockets ${String(n).padStart(5)} ${target.name.padEnd(16)} first-token overhead p50 ${row.overheadP50} p99 ${row.overheadP99} ms,`,
        `${row.deltasPerSecond}/${row.expectedDeltasPerSecond} deltas/s, failed ${row.failedTurns}, cpu ${row.targetCpuCores} cores`,
      );
      if (!row.pass) break;
    }
  }
  const largest = (name) =>
    Math.max(0, ...rows.filter((r) => r.target === name && r.pass).map((r) => r.clients));
  targets = [shared.provider, ...targets];
  return { steps: rows, largestPassing: Object.fromEntries(targets.map((t) => [t.name, largest(t.name)])) };
}

/**
 * (i) N clients connected, then every one starts a streamed turn at once: first token p50 / p99 from each send.
 * The app and the bare baseline over Socket.IO, the Python design over its plain WebSocket.
 */
async function burstScenario(shared, targets) {
  const rows = [];
  const tokens = Math.round((config.streamTurnMs / 1000) * config.tokensPerSecond);
  const d = { firstByteMs: 0, eventDelayMs: 1000 / config.tokensPerSecond, tokens, tool: false };
  const loads = shared.socketLoads;
  for (const n of config.burstCounts) {
    if (n > config.fdLimit - 500) break;
    for (const target of targets) {
      const python = target.kind === 'python';
      const url = python
        ? `${target.url.replace('http', 'ws')}/chat/ws/`
        : `${target.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
      const shares = splitCount(n, loads.length);
      const connected = await Promise.all(
        loads.map((load, i) =>
          load.call('connect', {
            url,
            token: API_KEY,
            count: shares[i],
            rate: config.connectRate / loads.length,
            localAddress: `127.0.0.${30 + i}`,
            protocol: python ? 'ws-json' : 'socket.io',
          }),
        ),
      );
      const ok = connected.reduce((sum, c) => sum + c.connected, 0);
      await proc.sleep(500);
      const meter = shared.meter(
        target.pid,
        loads.map((l) => l.pid),
      );
      meter.begin();
      const results = await withProfile(target, `burst-${n}-${target.name}`, () =>
        Promise.all(
          loads.map((load) =>
            load.call(
              'burst',
              { message: directive(d), tokens, timeoutMs: config.burstTimeoutMs },
              config.burstTimeoutMs + 30_000,
            ),
          ),
        ),
      );
      const usage = meter.end();
      await Promise.all(loads.map((load) => load.call('close')));
      const firstToken = summarize(results.flatMap((r) => r.firstTokenMs));
      const turn = summarize(results.flatMap((r) => r.turnMs));
      const failed = results.reduce((sum, r) => sum + r.failedTurns + r.unfinished, 0);
      const row = {
        scenario: 'burst',
        target: target.name,
        kind: target.kind,
        clients: n,
        connected: ok,
        nominalFirstTokenMs: nominalFirstTokenMs(d),
        firstTokenP50: round(firstToken.p50, 1),
        firstTokenP99: round(firstToken.p99, 1),
        turnP50: round(turn.p50, 1),
        failedTurns: failed,
        shortTurns: results.reduce((sum, r) => sum + r.shortTurns, 0),
        errors: results.flatMap((r) => r.errors).slice(0, 5),
        cpuMsPerTurn: round((usage.cpu.target * 1000) / Math.max(1, n - failed), 2),
      };
      rows.push(row);
      log(
        `  burst ${String(n).padStart(5)} ${target.name.padEnd(16)} connected ${ok}, first token p50 ${row.firstTokenP50} p99 ${row.firstTokenP99} ms,`,
        `turn p50 ${row.turnP50} ms, failed ${failed}, cpu ${row.cpuMsPerTurn} ms/turn`,
        row.errors.length ? JSON.stringify(row.errors) : '',
      );
    }
  }
  return rows;
}

/** The streamed Messages API request the app makes, sent straight to the fake provider (calibration). */
function directStream(shared, message) {
  return {
    headers: { 'x-api-key': 'sk-ant-bench', 'anthropic-version': '2023-06-01' },
    body: {
      model: shared.shape.model,
      max_tokens: shared.shape.maxTokens,
      system: shared.shape.system,
      tools: shared.shape.tools,
      messages: [{ role: 'user', content: message }],
      stream: true,
    },
  };
}

async function sseScenario(shared, targets, n = config.sseClients, scenario = 'sse') {
  const rows = [];
  const tokens = Math.round((config.streamTurnMs / 1000) * config.tokensPerSecond);
  const d = { firstByteMs: 0, eventDelayMs: 1000 / config.tokensPerSecond, tokens, tool: false };
  for (const target of targets) {
    const loads = shared.sseLoads;
    const direct = target.kind === 'provider' ? directStream(shared, directive(d)) : undefined;
    const shares = splitCount(n, loads.length);
    const meter = shared.meter(
      target.pid,
      loads.map((l) => l.pid),
    );
    const window = measureWindow(shared, meter);
    const results = await withProfile(target, `sse-${n}-${target.name}`, () =>
      Promise.all(
        loads.map((load, i) =>
          load.call(
            'stream',
            {
              url: target.url,
              token: API_KEY,
              clients: shares[i],
              direct,
              localAddress: `127.0.0.${20 + i}`,
              message: directive(d),
              tokens,
              turnMs: config.streamTurnMs,
              warmupMs: config.streamTurnMs,
              windowMs: config.streamWindowMs,
            },
            config.streamTurnMs * 6 + config.streamWindowMs + 60_000,
          ),
        ),
      ),
    );
    const { usage, commands } = await window;
    const row = streamRow(scenario, target, n, n, d, results, usage, commands);
    rows.push(row);
    log(
      `  ${scenario} ${n} ${target.name.padEnd(16)} first-token overhead p50 ${row.overheadP50} p99 ${row.overheadP99} ms,`,
      `${row.deltasPerSecond}/${row.expectedDeltasPerSecond} deltas/s, failed ${row.failedTurns}, cpu ${row.targetCpuCores} cores`,
    );
  }
  return rows;
}

/**
 * Resume after a dropped connection: N sockets each run streamed turns, drop their connection mid-stream, come
 * back after a pause and `join` with the `seq` of their last event (see load/sockets.js `resume`).
 */
async function resumeScenario(shared, target) {
  const tokens = Math.round((config.streamTurnMs / 1000) * config.tokensPerSecond);
  const d = { firstByteMs: 0, eventDelayMs: 1000 / config.tokensPerSecond, tokens, tool: false };
  const n = config.resumeClients;
  const loads = shared.socketLoads;
  const wsUrl = `${target.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
  const shares = splitCount(n, loads.length);
  const connected = await Promise.all(
    loads.map((load, i) =>
      load.call('connect', {
        url: wsUrl,
        token: API_KEY,
        count: shares[i],
        rate: config.connectRate / loads.length,
        localAddress: `127.0.0.${30 + i}`,
      }),
    ),
  );
  const ok = connected.reduce((sum, c) => sum + c.connected, 0);
  if (ok < n)
    log(`  only ${ok} of ${n} sockets connected: ${JSON.stringify(connected.map((c) => c.reasons))}`);
  const turnTimeoutMs = config.streamTurnMs * 3 + config.resumeOfflineMs + 10_000;
  const meter = shared.meter(
    target.pid,
    loads.map((l) => l.pid),
  );
  const commandsBefore = await readCommandStats(shared.redis);
  meter.begin();
  const results = await withProfile(target, `resume-${n}-${target.name}`, () =>
    Promise.all(
      loads.map((load) =>
        load.call(
          'resume',
          {
            message: directive(d),
            tokens,
            expectedText: replyText(tokens),
            rounds: config.resumeRounds,
            offlineMs: config.resumeOfflineMs,
            // The drop comes after 10% to 60% of the reply: mid-stream, with the run still producing.
            dropFrom: 0.1,
            dropTo: 0.6,
            turnMs: config.streamTurnMs,
            timeoutMs: turnTimeoutMs,
          },
          (turnTimeoutMs + config.resumeOfflineMs) * config.resumeRounds + config.streamTurnMs + 60_000,
        ),
      ),
    ),
  );
  const usage = meter.end();
  const commands = diffCommandStats(commandsBefore, await readCommandStats(shared.redis));
  const stored = await Promise.all(
    loads.map((load) => load.call('storedAnswers', { httpUrl: target.url, token: API_KEY }, 120_000)),
  );
  await Promise.all(loads.map((load) => load.call('close')));

  const all = (key) => results.flatMap((r) => r[key]);
  const sum = (pick) => results.reduce((total, r) => total + pick(r), 0);
  const problems = {};
  for (const r of results) {
    for (const [kind, count] of Object.entries(r.problems)) problems[kind] = (problems[kind] ?? 0) + count;
  }
  const turns = sum((r) => r.counts.turns);
  const replayed = all('replayed');
  const ms = (samples) => {
    const s = summarize(samples);
    return { n: s.n, p50: round(s.p50, 2), p90: round(s.p90, 2), p99: round(s.p99, 2), max: round(s.max, 2) };
  };
  const storedChecked = stored.reduce((total, r) => total + r.checked, 0);
  const storedMismatched = stored.reduce((total, r) => total + r.mismatched, 0);
  return {
    scenario: 'socket-resume',
    target: target.name,
    kind: target.kind,
    clients: n,
    connected: ok,
    rounds: config.resumeRounds,
    offlineMs: config.resumeOfflineMs,
    tokens,
    turns,
    resumedOk: sum((r) => r.counts.ok),
    failedTurns: sum((r) => r.counts.failed) + storedMismatched,
    problems,
    storedChecked,
    storedMismatched,
    noReplay: sum((r) => r.counts.noReplay),
    errors: [...results.flatMap((r) => r.failures), ...stored.flatMap((r) => r.failures)].slice(0, 5),
    // From opening the new connection to the first event after `join` (connection, handshake, join, replay).
    resumeMs: ms(all('resumeMs')),
    joinToFirstEventMs: ms(all('joinToFirstMs')),
    joinAckMs: ms(all('joinAckMs')),
    replayedMean: round(replayed.reduce((a, b) => a + b, 0) / Math.max(1, replayed.length), 1),
    seconds: round(usage.wallSeconds, 1),
    targetCpuCores: round(usage.cpu.target / usage.wallSeconds, 2),
    targetCpuMsPerTurn: round((usage.cpu.target * 1000) / Math.max(1, turns), 2),
    redisCommandsPerTurn: round(commands.total / Math.max(1, turns), 1),
    redisPerTurn: perUnit(commands, turns),
    machineBusy: round(usage.machineBusy, 2),
    otherLoadCores: round(usage.otherCores, 2),
  };
}

async function idleScenario(shared, targets) {
  const rows = [];
  const loads = shared.idleLoads;
  const cap = config.fdLimit - 1_000;
  for (const target of targets) {
    for (const requested of config.idleCounts) {
      const n = Math.min(requested, cap);
      const snapshot = config.profile && requested === config.idleCounts[0];
      if (snapshot) fs.mkdirSync(PROFILES, { recursive: true });
      const snapshotFile = (when) => path.join(PROFILES, `idle-${n}-${target.name}-${when}.heapsnapshot`);
      if (snapshot) await target.child.call('heap-snapshot', { file: snapshotFile('before') }, 300_000);
      const before = await target.child.call('mem', { gc: true });
      const shares = splitCount(n, loads.length);
      const wsUrl = `${target.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
      const startedAt = performance.now();
      const connected = await Promise.all(
        loads.map((load, i) =>
          load.call(
            'connect',
            {
              url: wsUrl,
              token: API_KEY,
              count: shares[i],
              rate: config.connectRate / loads.length,
              localAddress: `127.0.1.${10 + i}`,
            },
            300_000,
          ),
        ),
      );
      const seconds = (performance.now() - startedAt) / 1000;
      const ok = connected.reduce((s, c) => s + c.connected, 0);
      await proc.sleep(2_000);
      const after = await target.child.call('mem', { gc: true });
      const rssAfter = proc.rssBytes(target.pid);
      if (snapshot) {
        await target.child.call('heap-snapshot', { file: snapshotFile('after') }, 300_000);
        const summary = require('./lib/heap-summary').diff(snapshotFile('before'), snapshotFile('after'), ok);
        fs.writeFileSync(path.join(PROFILES, `idle-${n}-${target.name}.txt`), `${summary}\n`);
        log(
          `  heap per connection: ${path.relative(ROOT, path.join(PROFILES, `idle-${n}-${target.name}.txt`))}`,
        );
      }
      await Promise.all(loads.map((load) => load.call('close', {}, 120_000)));
      const row = {
        scenario: 'idle',
        target: target.name,
        kind: target.kind,
        requested,
        connections: ok,
        failed: n - ok,
        limitedBy: requested > cap ? `open-file limit ${config.fdLimit} (ulimit -n)` : null,
        connectPerSecond: round(ok / seconds, 0),
        heapKBPerConnection: round((after.heapUsed - before.heapUsed) / 1024 / Math.max(1, ok), 2),
        rssKBPerConnection: round((after.rss - before.rss) / 1024 / Math.max(1, ok), 2),
        externalKBPerConnection: round(
          (after.external + after.arrayBuffers - before.external - before.arrayBuffers) /
            1024 /
            Math.max(1, ok),
          2,
        ),
        rssMB: round(rssAfter / 1048576, 1),
      };
      rows.push(row);
      log(
        `  idle ${String(ok).padStart(6)} ${target.name.padEnd(16)} heap ${row.heapKBPerConnection} KB, rss ${row.rssKBPerConnection} KB per connection`,
      );
      await proc.sleep(1_000);
    }
  }
  return rows;
}

async function bullScenario(shared, distDir, app) {
  const load = loadProcess('load-bull', 'bull.js');
  const prefix = 'bench-noop';
  const consumer = proc.start('bull-noop', path.join(__dirname, 'servers/bull-noop.js'), {
    logDir: LOGS,
    nodeArgs: nodeArgs(),
    env: { REDIS_URL: shared.redisUrl, QUEUE_PREFIX: prefix, CONCURRENCY: String(config.taskConcurrency) },
  });
  await consumer.waitFor((m) => m.type === 'ready');
  const out = {};

  // No-op jobs: producer and consumer in two processes, timed from the first add to the last completion.
  const meter = shared.meter(consumer.pid, load.pid);
  const callsBefore = await redisCalls(shared.redis);
  meter.begin();
  const done = consumer.call('expect', { count: config.bullJobs, timeoutMs: 180_000 }, 200_000);
  const produced = await load.call('noop', {
    redisUrl: shared.redisUrl,
    prefix,
    count: config.bullJobs,
    parallel: 64,
  });
  const finished = await done;
  const usage = meter.end();
  const calls = (await redisCalls(shared.redis)) - callsBefore - 1;
  out.noop = {
    jobs: config.bullJobs,
    added: produced.added,
    timedOut: finished.timedOut,
    jobsPerSecond: round(finished.completed / usage.wallSeconds, 0),
    enqueuePerSecond: round(produced.added / produced.seconds, 0),
    redisCommandsPerJob: round(calls / Math.max(1, finished.completed), 1),
    consumerCpuMsPerJob: round((usage.cpu.target * 1000) / Math.max(1, finished.completed), 3),
    producerCpuMsPerJob: round((usage.cpu.load * 1000) / Math.max(1, finished.completed), 3),
    redisCpuMsPerJob: round((usage.cpu.redis * 1000) / Math.max(1, finished.completed), 3),
    concurrency: config.taskConcurrency,
  };
  log(
    `  bull no-op: ${out.noop.jobsPerSecond} jobs/s, ${out.noop.redisCommandsPerJob} Redis commands per job`,
  );
  await consumer.stop();

  // Agent tasks end to end: POST /v1/tasks → Bull → worker process → agent turn → stored → task completed.
  const worker = proc.start('worker', path.join(distDir, 'apps/worker/src/main.js'), {
    cwd: path.join(BUILD, 'run'),
    logDir: LOGS,
    nodeArgs: nodeArgs([], { experiment: EXPERIMENTS.length > 0 }),
    env: { ...shared.appEnv, BENCH_DIST: distDir },
  });
  await worker.waitFor((m) => m.type === 'ready', 90_000);
  const db = new Client({ connectionString: shared.databaseUrl });
  await db.connect();
  const taskMeter = shared.meter(worker.pid, load.pid, app.pid);
  const taskCallsBefore = await redisCalls(shared.redis);
  taskMeter.begin();
  const created = await withProfile({ child: worker }, 'tasks-worker', async () => {
    const result = await load.call(
      'tasks',
      {
        url: app.url,
        token: API_KEY,
        count: config.agentTasks,
        parallel: 32,
        instruction: directive({ tokens: config.restTokens }),
      },
      300_000,
    );
    const deadline = Date.now() + 240_000;
    for (;;) {
      const { rows } = await db.query(
        `SELECT count(*)::int AS finished, count(*) FILTER (WHERE status = 'completed')::int AS completed
           FROM tasks WHERE finished_at IS NOT NULL`,
      );
      if (rows[0].finished >= result.created || Date.now() > deadline) break;
      await proc.sleep(100);
    }
    return result;
  });
  const taskUsage = taskMeter.end();
  const taskCalls = (await redisCalls(shared.redis)) - taskCallsBefore - 1;
  const { rows } = await db.query(
    `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed,
            count(*) FILTER (WHERE finished_at IS NULL)::int AS unfinished,
            extract(epoch FROM max(finished_at) - min(created_at)) AS span
       FROM tasks`,
  );
  await db.end();
  const completed = rows[0].completed;
  out.tasks = {
    tasks: config.agentTasks,
    created: created.created,
    completed,
    unfinished: rows[0].unfinished,
    failures: created.failures,
    tasksPerSecond: round(completed / Number(rows[0].span), 1),
    createPerSecond: round(created.created / created.seconds, 1),
    redisCommandsPerTask: round(taskCalls / Math.max(1, completed), 1),
    workerCpuMsPerTask: round((taskUsage.cpu.target * 1000) / Math.max(1, completed), 3),
    apiCpuMsPerTask: round((taskUsage.cpu.extra * 1000) / Math.max(1, completed), 3),
    postgresCpuMsPerTask: round((taskUsage.cpu.postgres * 1000) / Math.max(1, completed), 3),
    concurrency: config.taskConcurrency,
  };
  log(
    `  agent tasks: ${out.tasks.tasksPerSecond} tasks/s (${completed} completed), ${out.tasks.redisCommandsPerTask} Redis commands per task`,
  );
  await worker.stop();
  await load.stop();
  return out;
}

// ---------------------------------------------------------------------------------------------- main

async function machine(pgVersion, redisUrl) {
  const redis = new Redis(redisUrl);
  const info = await redis.info('server');
  redis.disconnect();
  let commit = null;
  let dirty = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT }).toString().trim().length > 0;
  } catch {
    // not a git checkout
  }
  return {
    cpu: os.cpus()[0].model,
    cores: os.cpus().length,
    memoryGB: round(os.totalmem() / 1024 ** 3, 1),
    kernel: os.release(),
    node: process.version,
    postgres: pgVersion,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? null,
    openFileLimit: config.fdLimit,
    commit,
    dirty,
  };
}

/**
 * (h) The prompt cache: conversations driven turn by turn against a fake provider that emulates the prefix cache
 * (1,024-token minimum, as the API has for Sonnet), on an app with automatic prompt caching and on one with it off
 * (PROMPT_CACHING=false): the share of input read from the cache from turn 2 on, and what the same conversation
 * costs with and without caching. Its own fake provider and apps, so no other scenario's figures change.
 */
async function cacheScenario(shared, distDir) {
  const fake = proc.start('fake-provider-cache', path.join(__dirname, 'servers/fake-provider.js'), {
    logDir: LOGS,
    env: { FAKE_PROMPT_CACHE_MIN_TOKENS: '1024' },
  });
  const { url: providerUrl } = await fake.waitFor((m) => m.type === 'ready');
  const rows = [];
  try {
    for (const caching of [true, false]) {
      const name = caching ? 'app-prompt-cache' : 'app-no-prompt-cache';
      const app = await startApp(name, distDir, {
        appEnv: { ...shared.appEnv, ANTHROPIC_BASE_URL: providerUrl, PROMPT_CACHING: String(caching) },
      });
      try {
        for (const [label, turns, tools] of [
          ['short', config.cacheTurns, config.cacheTools],
          ['long', config.cacheLongTurns, config.cacheLongTools],
        ]) {
          const perTurn = await driveConversation(app.url, API_KEY, { turns, tools });
          const row = { conversation: label, caching, ...cacheFigures(perTurn) };
          rows.push(row);
          log(
            `  ${label} conversation, ${row.turns} turns, ${row.toolCalls} tool calls, caching ${caching ? 'on' : 'off'}:`,
            `${fmtPct(row.readRatioFromTurn2)} of input read from the cache from turn 2 on, cost ${row.costUsd} USD`,
          );
        }
      } finally {
        await app.child.stop();
      }
    }
  } finally {
    await fake.stop();
  }
  return rows;
}

const fmtPct = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)}%`);

async function main() {
  const startedAt = Date.now();
  fs.mkdirSync(LOGS, { recursive: true });
  for (const file of fs.readdirSync(LOGS)) fs.rmSync(path.join(LOGS, file), { force: true });
  const distDir = path.resolve(ROOT, env.BENCH_DIST || 'bench/.build/dist');
  build(distDir);

  // What this run is compared with: the committed results, or a results file named by BENCH_COMPARE (e.g. one
  // taken from an older commit with `git show <commit>:bench/results/latest.json`).
  const previous = env.BENCH_COMPARE ? report.readResults(env.BENCH_COMPARE) : report.readPrevious(RESULTS);
  if (env.BENCH_COMPARE && !previous)
    throw new Error(`BENCH_COMPARE: ${env.BENCH_COMPARE} is not a results file`);
  const databaseUrl = env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/agent_backend_bench';
  const pgVersion = await resetDatabase(databaseUrl);
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);

  log('starting the fake provider, the app, the app without persistence and the baselines');
  const fake = proc.start('fake-provider', path.join(__dirname, 'servers/fake-provider.js'), {
    logDir: LOGS,
    nodeArgs: ['--max-old-space-size=4096'],
  });
  const { url: providerUrl } = await fake.waitFor((m) => m.type === 'ready');
  const appEnv = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
    DATABASE_MIGRATE: 'true',
    REDIS_URL: redisServer.url,
    ANTHROPIC_API_KEY: 'sk-ant-bench-not-a-real-key',
    ANTHROPIC_BASE_URL: providerUrl,
    ADMIN_API_KEY: API_KEY,
    DEFAULT_TENANT: TENANT,
    // High enough never to refuse a bench request, still counted in Redis on every one as in production.
    RATE_LIMIT_REQUESTS: '1000000',
    RATE_LIMIT_WINDOW_SECONDS: '60',
    // The bench's thousands of sockets share one key: a cap that never refuses, still counted in Redis.
    SOCKET_MAX_CONNECTIONS_PER_KEY: '1000000',
    RUN_WORKERS_IN_API: 'false',
    QUEUE_PREFIX: 'bench',
    TASK_CONCURRENCY: String(config.taskConcurrency),
  };
  if (env.BENCH_DATABASE_POOL_SIZE) appEnv.DATABASE_POOL_SIZE = env.BENCH_DATABASE_POOL_SIZE;
  // Settings of the app under test for an attribution run, e.g. BENCH_APP_ENV=CONVERSATION_COST_LIMIT_USD=0.
  for (const pair of (env.BENCH_APP_ENV ?? '').split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    appEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const app = await startApp('app', distDir, { appEnv });
  // The app as operators run it (issue 15's production profile): info logs, task consumers in the API, an
  // operator cost ceiling; beside the lean profile above (warn logs, no consumers, the default ceiling).
  const productionEnv = {
    ...appEnv,
    LOG_LEVEL: 'info',
    RUN_WORKERS_IN_API: 'true',
    CONVERSATION_COST_LIMIT_USD: '5',
    QUEUE_PREFIX: 'bench-production',
  };
  for (const pair of (env.BENCH_PRODUCTION_ENV ?? '').split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    productionEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const appProduction =
    env.BENCH_PRODUCTION === '0'
      ? null
      : await startApp('app-production', distDir, { appEnv: productionEnv });
  const appMemory = await startApp('app-no-persistence', distDir, { appEnv }, { memory: true });
  // With BENCH_EXPERIMENT, a second pair with the experiment's preloads, measured beside the unchanged one.
  const tag = EXPERIMENTS.join('+');
  const appExp = tag ? await startApp(`app+${tag}`, distDir, { appEnv }, { experiment: true }) : null;
  const appMemoryExp = tag
    ? await startApp(`app-no-persistence+${tag}`, distDir, { appEnv }, { memory: true, experiment: true })
    : null;
  const shape = await requestShape(app);
  const shapeFile = path.join(BUILD, 'request-shape.json');
  fs.writeFileSync(shapeFile, JSON.stringify(shape));
  const shared = {
    appEnv,
    providerUrl,
    shapeFile,
    shape,
    redis,
    redisUrl: redisServer.url,
    databaseUrl,
    fake,
  };
  const undiciBase = await startBaseline('baseline-undici', 'undici', shared);
  const sdkBase = await startBaseline('baseline-sdk', 'sdk', shared);
  const provider = { name: 'provider-direct', kind: 'provider', url: providerUrl, pid: fake.pid };
  shared.provider = provider;
  const python = config.python && ensurePython() ? await startPythonDesign(shared) : null;
  shared.idleCpu = await idleCpu(
    [app, appProduction, appMemory, appExp, appMemoryExp, undiciBase, sdkBase, python, provider].filter(
      Boolean,
    ),
  );

  const postgresPids = () => proc.pidsNamed('postgres');
  shared.meter = (targetPid, loadPids, extraPid) =>
    new proc.CpuMeter({
      target: [targetPid],
      load: [].concat(loadPids),
      provider: [fake.pid],
      postgres: postgresPids,
      redis: redisServer.pid ? [redisServer.pid] : [],
      extra: extraPid ? [extraPid] : [],
      all: [
        ...new Set([...proc.runningPids(), ...postgresPids(), ...(redisServer.pid ? [redisServer.pid] : [])]),
      ],
    });

  const results = {
    meta: {
      startedAt: new Date(startedAt).toISOString(),
      machine: await machine(pgVersion, redisServer.url),
      config,
      experiments: EXPERIMENTS,
      compareFile: env.BENCH_COMPARE || null,
      idleCpuCores: shared.idleCpu,
    },
  };
  try {
    const restTargets = [
      provider,
      undiciBase,
      sdkBase,
      python,
      appMemory,
      appMemoryExp,
      app,
      appExp,
      appProduction,
    ].filter(Boolean);
    if (scenarios.has('rest') || scenarios.has('tools'))
      shared.restLoad = loadProcess('load-rest', 'rest.js');
    if (scenarios.has('rest')) {
      log('(a) REST POST /v1/chat');
      results.rest = await restScenarios(shared, restTargets, false);
    }
    if (scenarios.has('tools')) {
      log('(b) REST POST /v1/chat with a tool loop (two model calls, one tool)');
      if (!results.rest) results.rest = await restScenarios(shared, [provider], false);
      results.restTool = await restScenarios(shared, restTargets, true, results.rest);
    }
    if (shared.restLoad) await shared.restLoad.stop();
    await appMemory.child.stop();
    if (appMemoryExp) await appMemoryExp.child.stop();
    await sdkBase.child.stop();

    if (
      scenarios.has('sockets') ||
      scenarios.has('sse') ||
      scenarios.has('resume') ||
      scenarios.has('burst')
    ) {
      shared.socketLoads = Array.from({ length: config.loadProcesses }, (_, i) =>
        loadProcess(`load-sockets-${i}`, 'sockets.js'),
      );
      shared.sseLoads = Array.from({ length: config.loadProcesses }, (_, i) =>
        loadProcess(`load-sse-${i}`, 'sse.js'),
      );
    }
    if (scenarios.has('sockets')) {
      log(`(c) Socket.IO streams at ${config.tokensPerSecond} tokens/s`);
      results.sockets = await socketScenarios(
        shared,
        [app, appExp, appProduction, undiciBase].filter(Boolean),
      );
    }
    if (scenarios.has('sse')) {
      log(`(e) SSE streams at ${config.tokensPerSecond} tokens/s`);
      results.sse = await sseScenario(
        shared,
        [provider, app, appExp, appProduction, undiciBase].filter(Boolean),
      );
    }
    if (scenarios.has('burst')) {
      log(`(i) ${config.burstCounts.join(' and ')} clients start a streamed turn at once`);
      results.burst = await burstScenario(
        shared,
        [undiciBase, python, app, appExp, appProduction].filter(Boolean),
      );
    }
    if (python) await python.child.stop();
    if (appProduction) await appProduction.child.stop();
    if (scenarios.has('resume')) {
      log(
        `(g) resume: ${config.resumeClients} Socket.IO streams dropped mid-stream and joined again with after_seq`,
      );
      results.socketResume = [];
      for (const target of [app, appExp].filter(Boolean)) {
        const row = await resumeScenario(shared, target);
        results.socketResume.push(row);
        log(
          `  resume ${row.clients} ${target.name.padEnd(16)} ${row.resumedOk}/${row.turns} turns whole after their resume,`,
          `resume p50 ${row.resumeMs.p50} p99 ${row.resumeMs.p99} ms (join → first event p50 ${row.joinToFirstEventMs.p50} p99 ${row.joinToFirstEventMs.p99} ms),`,
          `${row.replayedMean} events replayed on average, stored answers checked ${row.storedChecked} (${row.storedMismatched} differ)`,
          row.failedTurns ? `failures: ${JSON.stringify(row.problems)} ${JSON.stringify(row.errors)}` : '',
        );
      }
    }
    for (const load of [...(shared.socketLoads || []), ...(shared.sseLoads || [])]) await load.stop();

    if (scenarios.has('idle')) {
      log('(d) idle Socket.IO connections');
      shared.idleLoads = Array.from({ length: config.idleLoadProcesses }, (_, i) =>
        loadProcess(`load-idle-${i}`, 'sockets.js'),
      );
      results.idle = await idleScenario(shared, [app, appExp, undiciBase].filter(Boolean));
      for (const load of shared.idleLoads) await load.stop();
    }
    await undiciBase.child.stop();

    if (scenarios.has('bull')) {
      log('(f) Bull: no-op jobs and agent tasks');
      results.bull = await bullScenario(shared, distDir, app);
    }
    if (scenarios.has('cache')) {
      log('(h) prompt cache: a conversation with tool calls, with and without automatic caching');
      results.promptCache = await cacheScenario(shared, distDir);
    }
  } finally {
    await proc.stopAll();
    redis.disconnect();
    await redisServer.stop();
  }

  results.meta.seconds = Math.round((Date.now() - startedAt) / 1000);
  results.targets = report.targets(results, config);
  results.pythonTargets = report.pythonTargets(results, config);
  results.comparison = report.compare(previous, results);
  results.eventLogCost = report.eventLogCost(previous, results);
  report.print(results, (line) => process.stdout.write(`${line}\n`));
  await report.write(results, RESULTS, path.join(ROOT, 'BENCHMARKS.md'), {
    quick: QUICK,
    partial: env.BENCH_ONLY !== undefined || EXPERIMENTS.length > 0,
  });
  log(`done in ${results.meta.seconds} s`);
}

process.on('SIGINT', () => {
  proc.stopAll().finally(() => process.exit(130));
});

main().catch(async (error) => {
  process.stderr.write(`\nThe bench failed: ${error.stack}\n(logs in ${path.relative(ROOT, LOGS)})\n`);
  await proc.stopAll();
  process.exit(1);
});
