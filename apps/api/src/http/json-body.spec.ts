import { ValidationError } from '@lib/core';
import { assertAcceptableRequest, inspectJson, MAX_BODY_DEPTH, unstorableText } from './json-body';

const nested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
};

describe('unstorableText', () => {
  it.each([
    ['a NUL', 'a\u0000b', 'NUL'],
    ['a lone high surrogate', 'a\uD800b', 'surrogate'],
    ['a lone low surrogate', '\uDC00', 'surrogate'],
    ['a high surrogate at the end', 'ok\uD83D', 'surrogate'],
    ['two high surrogates', '\uD83D\uD83D\uDE00', 'surrogate'],
  ])('refuses %s', (_what, text, reason) => {
    expect(unstorableText(text)).toContain(reason);
  });

  it.each(['', 'plain', '订单状态', '😀 emoji pairs 👍🏽', '\uFFFD', 'tab\tand\nnewline'])(
    'accepts %j',
    (text) => {
      expect(unstorableText(text)).toBeNull();
    },
  );
});

describe('inspectJson', () => {
  it('names every field at fault by its path, keys included', () => {
    expect(
      inspectJson({
        message: 'x\u0000',
        metadata: { tags: ['ok', '\uD800'], 'k\u0000': 'v', deep: { fine: 'yes' } },
      }),
    ).toEqual([
      { field: 'message', message: expect.stringContaining('NUL') },
      { field: 'metadata', message: expect.stringContaining('a key of metadata') },
      { field: 'metadata.tags.1', message: expect.stringContaining('surrogate') },
    ]);
  });

  it(`accepts ${MAX_BODY_DEPTH} levels and refuses one more, naming the top-level field`, () => {
    expect(inspectJson({ metadata: nested(MAX_BODY_DEPTH - 1) })).toEqual([]);
    expect(inspectJson({ metadata: nested(MAX_BODY_DEPTH) })).toEqual([
      { field: 'metadata', message: expect.stringContaining(`deeper than ${MAX_BODY_DEPTH}`) },
    ]);
  });

  it('walks a body 100,000 levels deep without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i += 1) deep = [deep];
    expect(inspectJson(deep)).toHaveLength(1);
  });
});

describe('assertAcceptableRequest', () => {
  it('throws a validation error for the body and for the query string', () => {
    expect(() => assertAcceptableRequest({ body: { title: '\u0000' }, query: {} })).toThrow(ValidationError);
    expect(() => assertAcceptableRequest({ body: undefined, query: { status: 'a\u0000' } })).toThrow(
      ValidationError,
    );
    expect(() =>
      assertAcceptableRequest({ body: { a: ['b', { c: 1 }] }, query: { page: '2' } }),
    ).not.toThrow();
  });
});
