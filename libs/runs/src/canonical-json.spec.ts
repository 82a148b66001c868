import { createHash } from 'node:crypto';
import { argumentsSha256, canonicalJson } from './canonical-json';

describe('canonicalJson', () => {
  it('sorts object members at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
  });

  it('orders member names by UTF-16 code units, not by locale', () => {
    expect(canonicalJson({ b: 1, B: 2, é: 3, a: 4 })).toBe('{"B":2,"a":4,"b":1,"é":3}');
  });

  it('writes strings and numbers as JSON.stringify does, and leaves undefined members out', () => {
    expect(canonicalJson({ s: 'line\n"q"', n: 1e21, f: 0.1, u: undefined, z: null })).toBe(
      '{"f":0.1,"n":1e+21,"s":"line\\n\\"q\\"","z":null}',
    );
  });

  it('gives the same hash whatever the order or spacing the arguments came in', () => {
    const a = JSON.parse('{ "order_number": "1001", "notify": true }');
    const b = JSON.parse('{"notify":true,"order_number":"1001"}');
    expect(argumentsSha256(a)).toBe(argumentsSha256(b));
    expect(argumentsSha256(a)).toBe(
      createHash('sha256').update('{"notify":true,"order_number":"1001"}').digest('hex'),
    );
    expect(argumentsSha256({ order_number: '1002', notify: true })).not.toBe(argumentsSha256(a));
  });
});
