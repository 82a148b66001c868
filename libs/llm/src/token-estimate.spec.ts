// The input estimate is an upper bound for any text: what a cost ceiling reserves must never be exceeded.
import fc from 'fast-check';
import type { ChatMessage } from './content';
import {
  countPdfPages,
  DOCUMENT_PAGE_TOKEN_BOUND,
  estimateInputTokens,
  IMAGE_TOKEN_BOUND,
} from './token-estimate';

/** The most tokens a byte-level tokenizer can make of a text: one per UTF-8 byte. */
const worstCaseTokens = (text: string) => Buffer.byteLength(text, 'utf8');

const requestWith = (text: string, system = '') => ({
  system,
  messages: [{ role: 'user', content: text }] as ChatMessage[],
  tools: [],
});

describe('estimateInputTokens', () => {
  it.each([
    ['Chinese', '我们的订单什么时候发货？请尽快回复。'],
    ['Japanese', '注文番号1001の配送状況を教えてください。'],
    ['Korean', '주문 상태를 알려주세요'],
    ['emoji', '😀🎉👍🏽👨‍👩‍👧‍👦🏳️‍🌈'],
    ['mixed', 'Order 1001 — 状態は？ 🚚 ok'],
  ])('bounds %s text by its UTF-8 bytes, where a character count does not', (_script, sample) => {
    const text = sample.repeat(300);
    const estimate = estimateInputTokens(requestWith(text));
    expect(estimate).toBeGreaterThanOrEqual(worstCaseTokens(text));
    // What one token per three characters would have reserved: below what the text can cost.
    expect(Math.ceil(text.length / 3)).toBeLessThan(worstCaseTokens(text));
  });

  it('bounds any string in the system prompt and the messages, whatever its code points', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), (message, system) => {
        const estimate = estimateInputTokens(requestWith(message, system));
        return estimate >= worstCaseTokens(message) + worstCaseTokens(system);
      }),
      { numRuns: 300 },
    );
  });

  it("adds the provider's tool-use system prompt when the request carries tools", () => {
    const bare = estimateInputTokens(requestWith('hi'));
    const tools = [{ name: 'calculator', description: 'adds', input_schema: { type: 'object' } }];
    const withTools = estimateInputTokens({ ...requestWith('hi'), tools });
    expect(withTools - bare).toBeGreaterThanOrEqual(346 + JSON.stringify(tools).length);
  });
});

describe('images and documents in the estimate', () => {
  const withBlocks = (content: ChatMessage['content']) => ({
    system: '',
    messages: [{ role: 'user', content }] as ChatMessage[],
    tools: [],
  });
  const bigImage = Buffer.alloc(3_000_000).toString('base64');

  it('counts an image by its bound, not by the bytes of its base64 data', () => {
    const text = estimateInputTokens(withBlocks([{ type: 'text', text: 'What is this?' }]));
    const image = estimateInputTokens(
      withBlocks([
        { type: 'text', text: 'What is this?' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: bigImage } },
      ]),
    );
    expect(image - text).toBeGreaterThanOrEqual(IMAGE_TOKEN_BOUND);
    expect(image - text).toBeLessThan(IMAGE_TOKEN_BOUND + 100);
  });

  it('counts a PDF by its pages', () => {
    const pdf = (pages: number) =>
      Buffer.from(
        `%PDF-1.4\n${'<< /Type /Page >>\n'.repeat(pages)}<< /Type /Pages /Count ${pages} >>`,
      ).toString('base64');
    expect(countPdfPages(pdf(3))).toBe(3);
    const one = estimateInputTokens(
      withBlocks([
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf(1) } },
      ]),
    );
    const five = estimateInputTokens(
      withBlocks([
        { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf(5) } },
      ]),
    );
    expect(five - one).toBe(4 * DOCUMENT_PAGE_TOKEN_BOUND);
  });

  it('takes the page tree count when it says more than the page objects show', () => {
    const pdf = Buffer.from('%PDF-1.5\n<< /Type /Pages /Kids [3 0 R] /Count 12 >>').toString('base64');
    expect(countPdfPages(pdf)).toBe(12);
  });
});
