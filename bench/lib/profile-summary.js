// Reads a .cpuprofile (V8 sampling profile, as `--cpu-prof` or the bench's BENCH_PROFILE=1 write it) and
// prints where the time went: self time by package / area, and the heaviest functions.
// Usage: node bench/lib/profile-summary.js <file.cpuprofile> [top]
'use strict';
const fs = require('node:fs');

function area(url, name) {
  if (!url) {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(idle)' || name === '(program)' || name === '(root)') return name;
    return 'native/builtin';
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const dist = /(?:dist|\.build\/dist)\/(apps|libs)\/([^/]+)/.exec(url);
  if (dist) return `app:${dist[1]}/${dist[2]}`;
  if (url.includes('/bench/')) return 'bench';
  return url;
}

function summarize(profile, top = 30) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) || 0) + (dt[i] || 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const areas = new Map();
  const functions = new Map();
  for (const [id, us] of self) {
    const node = byId.get(id);
    const { functionName, url, lineNumber } = node.callFrame;
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) || 0) + us);
    const key = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^.*\/(dist|\.build\/dist)\//, '')}:${lineNumber + 1}` : ''}`;
    functions.set(key, (functions.get(key) || 0) + us);
  }
  // Inclusive: a sample counts once for every area and app function on its (synchronous) stack.
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const inclusiveAreas = new Map();
  const inclusiveApp = new Map();
  for (const [id, us] of self) {
    const seenAreas = new Set();
    const seenFns = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const { functionName, url, lineNumber } = byId.get(at).callFrame;
      const a = area(url, functionName);
      seenAreas.add(a);
      if (a.startsWith('app:'))
        seenFns.add(
          `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|\.build\/dist)\//, '')}:${lineNumber + 1}`,
        );
    }
    for (const a of seenAreas) inclusiveAreas.set(a, (inclusiveAreas.get(a) || 0) + us);
    for (const f of seenFns) inclusiveApp.set(f, (inclusiveApp.get(f) || 0) + us);
  }
  const busy = total - (areas.get('(idle)') || 0);
  const pct = (us) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `total ${(total / 1e6).toFixed(2)} s sampled, busy ${(busy / 1e6).toFixed(2)} s (percentages of busy)`,
    '',
    'by area:',
  ];
  for (const [a, us] of [...areas]
    .filter(([k]) => k !== '(idle)')
    .sort((x, y) => y[1] - x[1])
    .slice(0, 25)) {
    lines.push(`  ${pct(us)}  ${a}`);
  }
  lines.push('', 'by area, inclusive (the area is somewhere on the synchronous stack):');
  for (const [a, us] of [...inclusiveAreas]
    .filter(([k]) => !k.startsWith('('))
    .sort((x, y) => y[1] - x[1])
    .slice(0, 20)) {
    lines.push(`  ${pct(us)}  ${a}`);
  }
  lines.push('', 'app functions, inclusive:');
  for (const [f, us] of [...inclusiveApp].sort((x, y) => y[1] - x[1]).slice(0, 20))
    lines.push(`  ${pct(us)}  ${f}`);
  lines.push('', 'heaviest functions (self time):');
  for (const [f, us] of [...functions].sort((x, y) => y[1] - x[1]).slice(0, top))
    lines.push(`  ${pct(us)}  ${f}`);
  return lines.join('\n');
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  process.stdout.write(`${summarize(JSON.parse(fs.readFileSync(file, 'utf8')), Number(top) || 30)}\n`);
}

module.exports = { summarize };
