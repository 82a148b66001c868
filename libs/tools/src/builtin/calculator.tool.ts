// Arithmetic the model should not do in its head: evaluated by our own parser, never by eval.
import { Injectable } from '@nestjs/common';
import { Tool, ToolError } from '../tool';
import { evaluateExpression, ExpressionError, MAX_EXPRESSION_LENGTH } from './calculator/expression';
import { CALCULATOR } from './tool-names';

export type CalculatorInput = { expression: string };

export interface CalculatorResult {
  expression: string;
  result: number;
}

@Injectable()
export class CalculatorTool implements Tool<CalculatorInput> {
  readonly name = CALCULATOR;
  readonly description =
    'Evaluates an arithmetic expression and returns JSON {expression, result}. Use it for every calculation ' +
    'in an answer (totals, discounts, percentages, per-seat prices, conversions) instead of computing in your ' +
    'head. Results are rounded to 15 significant digits; use round(x, 2) for money. A mistake in the ' +
    'expression is reported as an error naming the character position, so you can fix it and call again.';
  readonly inputSchema = {
    type: 'object',
    properties: {
      expression: {
        type: 'string',
        minLength: 1,
        maxLength: MAX_EXPRESSION_LENGTH,
        description:
          'The expression, e.g. "(99 + 2 * 9) * 12" or "round(1299 * 0.85, 2)". Supports numbers (1.5, 2e3), ' +
          '+ - * / % (remainder) ^ (power), parentheses, the functions sqrt, abs, round(x[, digits]), floor, ' +
          'ceil, min, max, pow(x, y), log (base 10, or log(x, base)), ln, exp, sin, cos, tan (radians), and the ' +
          'constants pi and e. No variables, units, currency signs or thousands separators; write 15% as 15/100.',
      },
    },
    required: ['expression'],
    additionalProperties: false,
  };

  async execute(input: CalculatorInput): Promise<CalculatorResult> {
    try {
      return { expression: input.expression, result: evaluateExpression(input.expression) };
    } catch (error) {
      if (error instanceof ExpressionError)
        throw new ToolError(`Cannot evaluate the expression: ${error.message}.`);
      throw error;
    }
  }
}
