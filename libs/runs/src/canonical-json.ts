// The canonical JSON of a tool call's arguments, and its SHA-256: what a decision is bound to.
import { createHash } from 'node:crypto';

/**
 * RFC 8785 (JSON Canonicalization Scheme) for the values a model produces: object members sorted by their names'
 * UTF-16 code units at every depth, array order kept, no whitespace, strings and numbers written as
 * `JSON.stringify` writes them (which is what RFC 8785 specifies). `undefined` members are left out, as JSON has
 * none. So `{"b": 1, "a": [2, {"d": 3, "c": 4}]}` is `{"a":[2,{"c":4,"d":3}],"b":1}`, however the model spaced or
 * ordered it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const written = JSON.stringify(value);
    if (written === undefined) throw new TypeError(`A ${typeof value} has no JSON form.`);
    return written;
  }
  if (Array.isArray(value)) {
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  }
  const members = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    // Code-unit order (not localeCompare): the order RFC 8785 specifies.
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${members.join(',')}}`;
}

/** Lower-case hex SHA-256 of the canonical JSON (UTF-8) of `value`. */
export function argumentsSha256(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}
