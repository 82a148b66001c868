// A safe arithmetic evaluator for the calculator tool: a tokenizer and a recursive-descent parser, never eval.
//
// Grammar (lowest precedence first):
//   expression := term (('+' | '-') term)*
//   term       := unary (('*' | '/' | '%') unary)*
//   unary      := ('+' | '-') unary | power
//   power      := primary ('^' unary)?          right-associative; -2^2 = -(2^2) as in mathematics
//   primary    := number | constant | name '(' expression (',' expression)* ')' | '(' expression ')'

export const MAX_EXPRESSION_LENGTH = 500;
// Each level of nesting is a level of recursion: cap it well below the stack limit.
const MAX_DEPTH = 64;

/** A mistake in the expression; `position` is the 1-based character where it was found. */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

type Operator = '+' | '-' | '*' | '/' | '%' | '^' | '(' | ')' | ',';

type Token =
  | { kind: 'number'; value: number; text: string; position: number }
  | { kind: 'name'; name: string; position: number }
  | { kind: 'operator'; operator: Operator; position: number }
  | { kind: 'end'; position: number };

interface FunctionDefinition {
  minArgs: number;
  maxArgs: number;
  apply(args: number[], position: number): number;
}

const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };

const FUNCTIONS: Record<string, FunctionDefinition> = {
  sqrt: unary((x, p) => {
    if (x < 0) throw new ExpressionError(`sqrt of a negative number (${x}) at position ${p}`, p);
    return Math.sqrt(x);
  }),
  abs: unary(Math.abs),
  round: {
    minArgs: 1,
    maxArgs: 2,
    apply: ([x, digits = 0], p) => roundHalfAwayFromZero(x, digits, p),
  },
  floor: unary(Math.floor),
  ceil: unary(Math.ceil),
  min: { minArgs: 1, maxArgs: Infinity, apply: (args) => Math.min(...args) },
  max: { minArgs: 1, maxArgs: Infinity, apply: (args) => Math.max(...args) },
  pow: { minArgs: 2, maxArgs: 2, apply: ([x, y]) => Math.pow(x, y) },
  log: {
    minArgs: 1,
    maxArgs: 2,
    apply: ([x, base], p) => {
      requirePositive('log', x, p);
      if (base === undefined) return Math.log10(x);
      if (base <= 0 || base === 1)
        throw new ExpressionError(`log base must be positive and not 1 at position ${p}`, p);
      return Math.log(x) / Math.log(base);
    },
  },
  ln: unary((x, p) => {
    requirePositive('ln', x, p);
    return Math.log(x);
  }),
  exp: unary(Math.exp),
  sin: unary(Math.sin),
  cos: unary(Math.cos),
  tan: unary(Math.tan),
};

const KNOWN_NAMES = `functions ${Object.keys(FUNCTIONS).join(', ')}; constants ${Object.keys(CONSTANTS).join(', ')}`;

/** Evaluates an arithmetic expression; throws `ExpressionError` for anything it does not accept. */
export function evaluateExpression(source: string): number {
  if (source.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(
      `The expression is longer than ${MAX_EXPRESSION_LENGTH} characters`,
      MAX_EXPRESSION_LENGTH + 1,
    );
  }
  const tokens = tokenize(source);
  if (tokens[0].kind === 'end') throw new ExpressionError('The expression is empty', 1);
  const parser = new Parser(tokens);
  const value = parser.parseExpression(0);
  parser.expectEnd();
  // 0.1 + 0.2 is 0.30000000000000004 in binary floating point; 15 significant digits is what people mean.
  const tidy = Number(value.toPrecision(15));
  return Object.is(tidy, -0) ? 0 : tidy;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const number = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
  const name = /[A-Za-z_][A-Za-z0-9_]*/y;
  let i = 0;
  while (i < source.length) {
    const char = source[i];
    const position = i + 1;
    if (/\s/.test(char)) {
      i += 1;
      continue;
    }
    number.lastIndex = i;
    const numberMatch = number.exec(source);
    if (numberMatch) {
      const text = numberMatch[0];
      const value = Number(text);
      if (!Number.isFinite(value))
        throw new ExpressionError(`The number ${text} at position ${position} is too large`, position);
      tokens.push({ kind: 'number', value, text, position });
      i += text.length;
      continue;
    }
    name.lastIndex = i;
    const nameMatch = name.exec(source);
    if (nameMatch) {
      tokens.push({ kind: 'name', name: nameMatch[0], position });
      i += nameMatch[0].length;
      continue;
    }
    if (source.startsWith('**', i)) {
      tokens.push({ kind: 'operator', operator: '^', position });
      i += 2;
      continue;
    }
    const operator = OPERATOR_CHARACTERS[char];
    if (!operator) {
      throw new ExpressionError(
        `Unexpected character ${JSON.stringify(char)} at position ${position}; use numbers, + - * / % ^, parentheses and ${KNOWN_NAMES}`,
        position,
      );
    }
    tokens.push({ kind: 'operator', operator, position });
    i += 1;
  }
  tokens.push({ kind: 'end', position: source.length + 1 });
  return tokens;
}

const OPERATOR_CHARACTERS: Record<string, Operator> = {
  '+': '+',
  '-': '-',
  '−': '-',
  '*': '*',
  '×': '*',
  '/': '/',
  '÷': '/',
  '%': '%',
  '^': '^',
  '(': '(',
  ')': ')',
  ',': ',',
};

class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  parseExpression(depth: number): number {
    this.guardDepth(depth);
    let left = this.parseTerm(depth);
    for (let token = this.peek(); isOperator(token, '+', '-'); token = this.peek()) {
      this.index += 1;
      const right = this.parseTerm(depth);
      left = finite(token.operator === '+' ? left + right : left - right, token.position);
    }
    return left;
  }

  expectEnd(): void {
    const token = this.peek();
    if (token.kind === 'end') return;
    if (isOperator(token, ')'))
      throw new ExpressionError(`Unmatched ")" at position ${token.position}`, token.position);
    if (isOperator(token, ',')) {
      throw new ExpressionError(
        `Unexpected "," at position ${token.position}; commas only separate function arguments (write 1000, not 1,000)`,
        token.position,
      );
    }
    throw new ExpressionError(
      `Expected an operator before ${describe(token)} at position ${token.position} (write 2*pi, not 2pi)`,
      token.position,
    );
  }

  private parseTerm(depth: number): number {
    let left = this.parseUnary(depth);
    for (let token = this.peek(); isOperator(token, '*', '/', '%'); token = this.peek()) {
      this.index += 1;
      if (token.operator === '%' && this.endsOperand()) {
        throw new ExpressionError(
          `"%" at position ${token.position} is the remainder operator, not a percentage; write 15/100 for 15%`,
          token.position,
        );
      }
      const right = this.parseUnary(depth);
      if (token.operator === '*') {
        left = finite(left * right, token.position);
      } else {
        if (right === 0) {
          const what = token.operator === '/' ? 'Division' : 'Remainder of a division';
          throw new ExpressionError(`${what} by zero at position ${token.position}`, token.position);
        }
        left = finite(token.operator === '/' ? left / right : left % right, token.position);
      }
    }
    return left;
  }

  private parseUnary(depth: number): number {
    this.guardDepth(depth);
    const token = this.peek();
    if (isOperator(token, '+', '-')) {
      this.index += 1;
      const operand = this.parseUnary(depth + 1);
      return token.operator === '-' ? -operand : operand;
    }
    return this.parsePower(depth);
  }

  private parsePower(depth: number): number {
    const base = this.parsePrimary(depth);
    const token = this.peek();
    if (!isOperator(token, '^')) return base;
    this.index += 1;
    const exponent = this.parseUnary(depth + 1);
    return finite(Math.pow(base, exponent), token.position);
  }

  private parsePrimary(depth: number): number {
    this.guardDepth(depth);
    const token = this.next();
    if (token.kind === 'number') return token.value;
    if (isOperator(token, '(')) {
      const value = this.parseExpression(depth + 1);
      this.expectClosing(token.position);
      return value;
    }
    if (token.kind === 'name') return this.parseName(token, depth);
    if (token.kind === 'end') {
      throw new ExpressionError(
        `The expression ends too early at position ${token.position}: expected a number, a name or "("`,
        token.position,
      );
    }
    throw new ExpressionError(
      `Unexpected ${describe(token)} at position ${token.position}: expected a number, a name or "("`,
      token.position,
    );
  }

  private parseName(token: Extract<Token, { kind: 'name' }>, depth: number): number {
    const name = token.name.toLowerCase();
    const fn = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
    const called = isOperator(this.peek(), '(');
    if (fn && called) return this.parseCall(name, fn, token.position, depth);
    if (fn) {
      throw new ExpressionError(
        `${name} at position ${token.position} is a function: call it with parentheses, e.g. ${name}(2)`,
        token.position,
      );
    }
    if (Object.hasOwn(CONSTANTS, name)) {
      if (called) {
        throw new ExpressionError(
          `${name} at position ${token.position} is a constant, not a function`,
          token.position,
        );
      }
      return CONSTANTS[name];
    }
    throw new ExpressionError(
      `Unknown name "${token.name}" at position ${token.position}; the calculator knows ${KNOWN_NAMES}`,
      token.position,
    );
  }

  private parseCall(name: string, fn: FunctionDefinition, position: number, depth: number): number {
    const open = this.next();
    const args: number[] = [];
    if (!isOperator(this.peek(), ')')) {
      args.push(this.parseExpression(depth + 1));
      while (isOperator(this.peek(), ',')) {
        this.index += 1;
        args.push(this.parseExpression(depth + 1));
      }
    }
    this.expectClosing(open.position);
    if (args.length < fn.minArgs || args.length > fn.maxArgs) {
      throw new ExpressionError(
        `${name} at position ${position} takes ${arityText(fn)}, got ${args.length}`,
        position,
      );
    }
    return finite(fn.apply(args, position), position);
  }

  private expectClosing(openedAt: number): void {
    const token = this.next();
    if (isOperator(token, ')')) return;
    if (token.kind === 'end') {
      throw new ExpressionError(`Missing ")" for the "(" at position ${openedAt}`, token.position);
    }
    throw new ExpressionError(
      `Expected ")" or an operator at position ${token.position}, found ${describe(token)}`,
      token.position,
    );
  }

  /** Whether the token after the one just consumed cannot start an operand (used to explain a trailing "%"). */
  private endsOperand(): boolean {
    const token = this.peek();
    return token.kind === 'end' || isOperator(token, ')', ',', '+', '-', '*', '/', '^');
  }

  private guardDepth(depth: number): void {
    if (depth > MAX_DEPTH) {
      const position = this.peek().position;
      throw new ExpressionError(`The expression is nested too deeply (over ${MAX_DEPTH} levels)`, position);
    }
  }

  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const token = this.tokens[this.index];
    if (token.kind !== 'end') this.index += 1;
    return token;
  }
}

function isOperator<O extends Operator>(
  token: Token,
  ...operators: O[]
): token is { kind: 'operator'; operator: O; position: number } {
  return token.kind === 'operator' && (operators as Operator[]).includes(token.operator);
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'number':
      return `the number ${token.text}`;
    case 'name':
      return `"${token.name}"`;
    case 'operator':
      return `"${token.operator}"`;
    case 'end':
      return 'the end of the expression';
  }
}

function finite(value: number, position: number): number {
  if (Number.isNaN(value))
    throw new ExpressionError(`The result is undefined (not a number) at position ${position}`, position);
  if (!Number.isFinite(value))
    throw new ExpressionError(`The result is too large at position ${position}`, position);
  return value;
}

function unary(fn: (x: number, position: number) => number): FunctionDefinition {
  return { minArgs: 1, maxArgs: 1, apply: ([x], position) => fn(x, position) };
}

function requirePositive(name: string, x: number, position: number): void {
  if (x <= 0)
    throw new ExpressionError(`${name} of a non-positive number (${x}) at position ${position}`, position);
}

function arityText(fn: FunctionDefinition): string {
  if (fn.maxArgs === Infinity) return `at least ${fn.minArgs} argument${fn.minArgs === 1 ? '' : 's'}`;
  if (fn.minArgs === fn.maxArgs) return `${fn.minArgs} argument${fn.minArgs === 1 ? '' : 's'}`;
  return `${fn.minArgs} to ${fn.maxArgs} arguments`;
}

// Money rounds half away from zero (2.5 → 3, -2.5 → -3); the scaled value is tidied first so 1.005 rounds to 1.01.
function roundHalfAwayFromZero(x: number, digits: number, position: number): number {
  if (!Number.isInteger(digits) || digits < 0 || digits > 15) {
    throw new ExpressionError(
      `round's digits must be a whole number from 0 to 15 at position ${position}`,
      position,
    );
  }
  const factor = 10 ** digits;
  const scaled = Number((Math.abs(x) * factor).toPrecision(15));
  return (Math.sign(x) * Math.round(scaled)) / factor;
}
