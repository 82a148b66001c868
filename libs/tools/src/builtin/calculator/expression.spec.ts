import { evaluateExpression, ExpressionError, MAX_EXPRESSION_LENGTH } from './expression';

function errorOf(source: string): ExpressionError {
  try {
    evaluateExpression(source);
  } catch (error) {
    if (error instanceof ExpressionError) return error;
    throw error;
  }
  throw new Error(`"${source}" was accepted`);
}

describe('evaluateExpression', () => {
  describe('numbers', () => {
    it.each([
      ['42', 42],
      ['3.5', 3.5],
      ['.5', 0.5],
      ['5.', 5],
      ['1e3', 1000],
      ['2.5E-2', 0.025],
      ['1e+2', 100],
      ['  7  ', 7],
    ])('reads %s as %d', (source, expected) => {
      expect(evaluateExpression(source)).toBe(expected);
    });

    it('tidies binary floating-point noise to 15 significant digits', () => {
      expect(evaluateExpression('0.1 + 0.2')).toBe(0.3);
      expect(evaluateExpression('1.1 * 3')).toBe(3.3);
    });

    it('never returns negative zero', () => {
      expect(Object.is(evaluateExpression('-0'), 0)).toBe(true);
      expect(Object.is(evaluateExpression('0 * -1'), 0)).toBe(true);
    });
  });

  describe('precedence and associativity', () => {
    it.each([
      ['1 + 2 * 3', 7],
      ['(1 + 2) * 3', 9],
      ['10 - 4 - 3', 3],
      ['100 / 10 / 5', 2],
      ['2 * 3 % 4', 2],
      ['10 % 4 * 3', 6],
      ['7 - 10 % 4', 5],
      ['2 ^ 3 ^ 2', 512],
      ['(2 ^ 3) ^ 2', 64],
      ['2 * 3 ^ 2', 18],
      ['2 ** 10', 1024],
      ['-2 ^ 2', -4],
      ['(-2) ^ 2', 4],
      ['2 ^ -1', 0.5],
      ['-3 * -3', 9],
      ['--3', 3],
      ['+4 - +1', 3],
      ['1 - -1', 2],
      ['((((1))))', 1],
      ['3 × 4 ÷ 6 − 1', 1],
    ])('%s = %d', (source, expected) => {
      expect(evaluateExpression(source)).toBe(expected);
    });
  });

  describe('functions and constants', () => {
    it.each([
      ['sqrt(16)', 4],
      ['abs(-3.5)', 3.5],
      ['round(2.5)', 3],
      ['round(-2.5)', -3],
      ['round(1.005, 2)', 1.01],
      ['round(1234.5678, 1)', 1234.6],
      ['floor(-1.5)', -2],
      ['ceil(1.2)', 2],
      ['min(3, 1, 2)', 1],
      ['max(3, 1 + 5, 2)', 6],
      ['min(4)', 4],
      ['pow(2, 8)', 256],
      ['log(1000)', 3],
      ['log(8, 2)', 3],
      ['ln(e)', 1],
      ['exp(0)', 1],
      ['sin(0)', 0],
      ['cos(pi)', -1],
      ['tan(0)', 0],
      ['round(2 * pi, 4)', 6.2832],
      ['SQRT(PI * 0 + 9)', 3],
      ['sqrt(sqrt(81)) + max(1, min(5, 2))', 5],
    ])('%s = %d', (source, expected) => {
      expect(evaluateExpression(source)).toBe(expected);
    });

    it('computes a realistic quote', () => {
      expect(evaluateExpression('round((99 + (12 - 10) * 9) * 12 * 0.9, 2)')).toBe(1263.6);
    });
  });

  describe('errors, with the 1-based position of the mistake', () => {
    it.each([
      ['1 / 0', 'Division by zero', 3],
      ['5 % (2 - 2)', 'Remainder of a division by zero', 3],
      ['1 + (2 * 3', 'Missing ")"', 11],
      ['(1 + 2))', 'Unmatched ")"', 8],
      ['1 +', 'ends too early', 4],
      ['* 2', 'Unexpected "*"', 1],
      ['2 3', 'Expected an operator before the number 3', 3],
      ['2pi', 'Expected an operator before "pi"', 2],
      ['2e', 'Expected an operator before "e"', 2],
      ['1.2.3', 'Expected an operator before the number .3', 4],
      ['1,000', 'commas only separate function arguments', 2],
      ['3 $ 4', 'Unexpected character "$"', 3],
      ['sqrt(-1)', 'sqrt of a negative number', 1],
      ['log(0)', 'log of a non-positive number', 1],
      ['ln(-2)', 'ln of a non-positive number', 1],
      ['log(8, 1)', 'log base must be positive and not 1', 1],
      ['sqrt', 'is a function', 1],
      ['pi(2)', 'is a constant, not a function', 1],
      ['pow(2)', 'pow at position 1 takes 2 arguments, got 1', 1],
      ['sqrt(1, 2)', 'takes 1 argument, got 2', 1],
      ['max()', 'takes at least 1 argument, got 0', 1],
      ['round(1.5, 0.5)', "round's digits must be a whole number", 1],
      ['10 ^ 400', 'too large', 4],
      ['1e400', 'too large', 1],
      ['exp(1000)', 'too large', 1],
      ['(-8) ^ 0.5', 'not a number', 6],
      ['200 * 15%', 'not a percentage', 9],
      ['', 'empty', 1],
      ['   ', 'empty', 1],
    ])('rejects %j: %s at position %d', (source, message, position) => {
      const error = errorOf(source);
      expect(error.message).toContain(message);
      expect(error.position).toBe(position);
    });

    it('names the position in the message as well, for the model', () => {
      expect(errorOf('1 + 2 / 0').message).toBe('Division by zero at position 7');
    });
  });

  describe('safety', () => {
    it.each(['process', 'require', 'constructor', '__proto__', 'globalThis', 'Function', 'this', 'x'])(
      'rejects the identifier in %j',
      (source) => {
        const error = errorOf(source);
        expect(error.position).toBe(1);
        expect(error.message).toMatch(/^Unknown name/);
      },
    );

    it.each([
      'process.exit(1)',
      'require("fs")',
      'Math.max(1)',
      '[1][0]',
      '"1" + 1',
      '1; 2',
      'a = 1',
      '1 => 2',
      '`1`',
    ])('rejects code: %j', (source) => {
      expect(() => evaluateExpression(source)).toThrow(ExpressionError);
    });

    it('lists what it knows when it meets an unknown name', () => {
      expect(errorOf('process').message).toContain('functions sqrt, abs, round');
      expect(errorOf('process').message).toContain('constants pi, e');
    });

    it(`refuses expressions longer than ${MAX_EXPRESSION_LENGTH} characters`, () => {
      const long = Array.from({ length: 200 }, () => '1').join(' + ');
      expect(long.length).toBeGreaterThan(MAX_EXPRESSION_LENGTH);
      const error = errorOf(long);
      expect(error.message).toContain(`longer than ${MAX_EXPRESSION_LENGTH} characters`);
      expect(error.position).toBe(MAX_EXPRESSION_LENGTH + 1);
    });

    it(`accepts an expression of exactly ${MAX_EXPRESSION_LENGTH} characters`, () => {
      const source = `${'1+'.repeat(249)}1 `;
      expect(source).toHaveLength(MAX_EXPRESSION_LENGTH);
      expect(evaluateExpression(source)).toBe(250);
    });

    it('refuses nesting deeper than it can evaluate safely', () => {
      expect(errorOf(`${'('.repeat(100)}1${')'.repeat(100)}`).message).toContain('nested too deeply');
      expect(errorOf(`${'-'.repeat(100)}1`).message).toContain('nested too deeply');
    });

    it('accepts moderate nesting', () => {
      expect(evaluateExpression(`${'('.repeat(30)}1${')'.repeat(30)}`)).toBe(1);
    });
  });
});
