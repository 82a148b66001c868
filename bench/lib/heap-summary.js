// Sums a V8 heap snapshot by kind and constructor name; with two snapshots, what was added per connection.
// Usage: node bench/lib/heap-summary.js <before.heapsnapshot> <after.heapsnapshot> <connections> [top]
'use strict';
const fs = require('node:fs');

function summarize(file) {
  const snapshot = JSON.parse(fs.readFileSync(file, 'utf8'));
  const { node_fields: fields, node_types: types } = snapshot.snapshot.meta;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const kinds = types[typeAt];
  const totals = new Map();
  const nodes = snapshot.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const kind = kinds[nodes[i + typeAt]];
    const name = kind === 'object' || kind === 'closure' ? snapshot.strings[nodes[i + nameAt]] : '';
    const key = `${kind}${name ? `:${name}` : ''}`;
    const entry = totals.get(key) || { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += nodes[i + sizeAt];
    totals.set(key, entry);
  }
  return totals;
}

function diff(beforeFile, afterFile, connections, top = 25) {
  const before = summarize(beforeFile);
  const after = summarize(afterFile);
  const rows = [];
  for (const [key, a] of after) {
    const b = before.get(key) || { count: 0, bytes: 0 };
    rows.push({ key, count: (a.count - b.count) / connections, bytes: (a.bytes - b.bytes) / connections });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  const lines = [`${(total / 1024).toFixed(2)} KB of heap per connection, by kind and constructor:`];
  for (const r of rows.slice(0, top)) {
    lines.push(
      `  ${String(Math.round(r.bytes)).padStart(6)} B  ${r.count.toFixed(1).padStart(6)} objects  ${r.key}`,
    );
  }
  return lines.join('\n');
}

if (require.main === module) {
  const [before, after, connections, top] = process.argv.slice(2);
  process.stdout.write(`${diff(before, after, Number(connections), Number(top) || 25)}\n`);
}

module.exports = { diff };
