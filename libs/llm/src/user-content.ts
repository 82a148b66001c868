// What a user may send as a message, checked before anything runs: a string, or text, image and document blocks
// of the kinds and sizes the provider takes. Every refusal names the block (`message[i]`) and what is wrong with it.
import type { UserContentBlock } from './content';

export interface UserContentLimits {
  /** Decoded bytes of one base64 image. */
  maxImageBytes: number;
  /** Decoded bytes of one base64 PDF. */
  maxDocumentBytes: number;
  /** Blocks in one message. */
  maxBlocks: number;
}

export interface ContentProblem {
  field: string;
  message: string;
}

/** Characters of a string message or of one text block (the contract's bound for `message`). */
export const MAX_TEXT_CHARS = 10_000;
export const IMAGE_MEDIA_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export const DOCUMENT_MEDIA_TYPES = ['application/pdf'] as const;
export const USER_BLOCK_TYPES = ['text', 'image', 'document'] as const;
const MAX_URL_CHARS = 2_048;
const MAX_TITLE_CHARS = 500;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The first bytes each media type starts with: the provider refuses data that does not match its media type. */
const SIGNATURES: Record<string, (head: Buffer) => boolean> = {
  'image/png': (h) => h.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff,
  'image/gif': (h) => h.subarray(0, 4).toString('latin1') === 'GIF8',
  'image/webp': (h) =>
    h.subarray(0, 4).toString('latin1') === 'RIFF' && h.subarray(8, 12).toString('latin1') === 'WEBP',
  'application/pdf': (h) => h.subarray(0, 5).toString('latin1') === '%PDF-',
};

/** Decoded size of base64 text, without decoding it. */
export function base64DecodedBytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - padding;
}

/** Every problem of `value` as a user message; empty when it is acceptable. */
export function userMessageProblems(
  value: unknown,
  limits: UserContentLimits,
  field = 'message',
): ContentProblem[] {
  if (typeof value === 'string') {
    if (value.length < 1 || value.length > MAX_TEXT_CHARS || !/\S/.test(value)) {
      return [
        {
          field,
          message: `must be a non-blank string of 1 to ${MAX_TEXT_CHARS} characters, or content blocks`,
        },
      ];
    }
    return [];
  }
  if (!Array.isArray(value)) {
    return [{ field, message: 'must be a string or an array of content blocks (text, image, document)' }];
  }
  if (value.length < 1 || value.length > limits.maxBlocks) {
    return [{ field, message: `must hold 1 to ${limits.maxBlocks} content blocks` }];
  }
  const problems: ContentProblem[] = [];
  value.forEach((block: unknown, index) => {
    const problem = blockProblem(block, limits);
    if (problem) problems.push({ field: `${field}[${index}]`, message: `block ${index} ${problem}` });
  });
  if (!problems.length && !value.some((b: UserContentBlock) => b.type !== 'text' || /\S/.test(b.text))) {
    problems.push({ field, message: 'must not be blank' });
  }
  return problems;
}

function blockProblem(block: unknown, limits: UserContentLimits): string | null {
  if (typeof block !== 'object' || block === null || Array.isArray(block))
    return 'must be an object with a type';
  const { type } = block as { type?: unknown };
  if (typeof type !== 'string' || !(USER_BLOCK_TYPES as readonly string[]).includes(type)) {
    return `(${typeof type === 'string' ? type : 'no type'}): type must be one of ${USER_BLOCK_TYPES.join(', ')}`;
  }
  const fields = block as Record<string, unknown>;
  const allowed =
    type === 'text' ? ['type', 'text'] : type === 'image' ? ['type', 'source'] : ['type', 'source', 'title'];
  const extra = Object.keys(fields).find((key) => !allowed.includes(key));
  if (extra) return `(${type}): unknown field "${extra}"`;
  if (type === 'text') {
    const text = fields.text;
    if (typeof text !== 'string' || text.length < 1 || text.length > MAX_TEXT_CHARS) {
      return `(text): text must be a string of 1 to ${MAX_TEXT_CHARS} characters`;
    }
    return null;
  }
  if (type === 'document' && fields.title !== undefined) {
    if (typeof fields.title !== 'string' || fields.title.length > MAX_TITLE_CHARS) {
      return `(document): title must be a string of at most ${MAX_TITLE_CHARS} characters`;
    }
  }
  const mediaTypes: readonly string[] = type === 'image' ? IMAGE_MEDIA_TYPES : DOCUMENT_MEDIA_TYPES;
  const maxBytes = type === 'image' ? limits.maxImageBytes : limits.maxDocumentBytes;
  return sourceProblem(type, fields.source, mediaTypes, maxBytes);
}

function sourceProblem(
  type: string,
  source: unknown,
  mediaTypes: readonly string[],
  maxBytes: number,
): string | null {
  if (typeof source !== 'object' || source === null || Array.isArray(source)) {
    return `(${type}): source must be {type: "base64", media_type, data} or {type: "url", url}`;
  }
  const fields = source as Record<string, unknown>;
  if (fields.type === 'url') {
    const extra = Object.keys(fields).find((key) => key !== 'type' && key !== 'url');
    if (extra) return `(${type}): unknown source field "${extra}"`;
    if (typeof fields.url !== 'string' || fields.url.length > MAX_URL_CHARS || !isWebUrl(fields.url)) {
      return `(${type}): source.url must be an http or https URL of at most ${MAX_URL_CHARS} characters`;
    }
    return null;
  }
  if (fields.type !== 'base64') return `(${type}): source.type must be base64 or url`;
  const extra = Object.keys(fields).find((key) => !['type', 'media_type', 'data'].includes(key));
  if (extra) return `(${type}): unknown source field "${extra}"`;
  const mediaType = fields.media_type;
  if (typeof mediaType !== 'string' || !mediaTypes.includes(mediaType)) {
    return `(${type}): media_type ${typeof mediaType === 'string' ? `"${mediaType}" ` : ''}is not supported; use ${mediaTypes.join(', ')}`;
  }
  const data = fields.data;
  if (typeof data !== 'string' || !data.length || data.length % 4 !== 0 || !BASE64.test(data)) {
    return `(${type}): source.data must be base64 text`;
  }
  const bytes = base64DecodedBytes(data);
  if (bytes > maxBytes) {
    return `(${type}): is ${bytes} bytes, over the limit of ${maxBytes} bytes`;
  }
  const head = Buffer.from(data.slice(0, 24), 'base64');
  if (!SIGNATURES[mediaType](head)) return `(${type}): source.data is not ${mediaType} data`;
  return null;
}

function isWebUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
