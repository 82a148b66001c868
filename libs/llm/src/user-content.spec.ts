// What a user may send as a message: every refusal names its block, and nothing the provider takes is refused.
import { base64DecodedBytes, userMessageProblems } from './user-content';

const LIMITS = { maxImageBytes: 1024, maxDocumentBytes: 2048, maxBlocks: 4 };
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(8)]);
const b64 = (bytes: Buffer) => bytes.toString('base64');
const image = (mediaType: string, data: string) => ({
  type: 'image',
  source: { type: 'base64', media_type: mediaType, data },
});

describe('userMessageProblems', () => {
  it.each([
    ['a string', 'Where is order 1001?'],
    ['text blocks', [{ type: 'text', text: 'Hi' }]],
    ['a png', [{ type: 'text', text: 'What is this?' }, image('image/png', b64(PNG))]],
    ['a jpeg', [image('image/jpeg', b64(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0])))]],
    ['a gif', [image('image/gif', b64(Buffer.from('GIF89a\0\0')))]],
    ['a webp', [image('image/webp', b64(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')))]],
    ['an image by URL', [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }]],
    [
      'a PDF with a title',
      [
        {
          type: 'document',
          source: { type: 'base64', media_type: 'application/pdf', data: b64(Buffer.from('%PDF-1.7\n')) },
          title: 'Invoice',
        },
      ],
    ],
    ['a PDF by URL', [{ type: 'document', source: { type: 'url', url: 'http://example.com/a.pdf' } }]],
  ])('accepts %s', (_case, message) => {
    expect(userMessageProblems(message, LIMITS)).toEqual([]);
  });

  it.each([
    ['a blank string', '   ', 'message', /non-blank string/],
    ['a number', 42, 'message', /string or an array/],
    ['no blocks', [], 'message', /1 to 4 content blocks/],
    ['too many blocks', Array(5).fill({ type: 'text', text: 'x' }), 'message', /1 to 4 content blocks/],
    ['only blank text', [{ type: 'text', text: ' ' }], 'message', /must not be blank/],
    ['a block that is not an object', ['hi'], 'message[0]', /block 0 must be an object/],
    ['an unknown type', [{ type: 'audio' }], 'message[0]', /block 0 \(audio\): type must be one of/],
    ['a tool_result from a client', [{ type: 'tool_result' }], 'message[0]', /\(tool_result\)/],
    [
      'an unknown field',
      [{ type: 'text', text: 'x', cache_control: {} }],
      'message[0]',
      /unknown field "cache_control"/,
    ],
    ['a bmp', [image('image/bmp', b64(PNG))], 'message[0]', /media_type "image\/bmp" is not supported/],
    ['data that is not base64', [image('image/png', 'not base64!')], 'message[0]', /must be base64/],
    ['png data sent as jpeg', [image('image/jpeg', b64(PNG))], 'message[0]', /not image\/jpeg data/],
    [
      'an image over the limit',
      [image('image/png', b64(Buffer.concat([PNG, Buffer.alloc(1024)])))],
      'message[0]',
      /is 1040 bytes, over the limit of 1024 bytes/,
    ],
    [
      'a PDF that is not one',
      [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: b64(PNG) } }],
      'message[0]',
      /not application\/pdf data/,
    ],
    [
      'a non-web URL',
      [{ type: 'image', source: { type: 'url', url: 'ftp://x/a.png' } }],
      'message[0]',
      /http or https/,
    ],
    [
      'a source of another kind',
      [{ type: 'image', source: { type: 'file', file_id: 'f' } }],
      'message[0]',
      /base64 or url/,
    ],
  ])('refuses %s, naming the block', (_case, message, field, why) => {
    expect(userMessageProblems(message, LIMITS)).toEqual([{ field, message: expect.stringMatching(why) }]);
  });

  it('names every refused block, under the field it was given', () => {
    const problems = userMessageProblems(
      [{ type: 'text', text: 'ok' }, { type: 'video' }, image('image/tiff', b64(PNG))],
      LIMITS,
      'instruction',
    );
    expect(problems.map((p) => p.field)).toEqual(['instruction[1]', 'instruction[2]']);
  });

  it('measures base64 by its decoded size, padding included', () => {
    for (const size of [0, 1, 2, 3, 4, 1000, 1001, 1002]) {
      expect(base64DecodedBytes(Buffer.alloc(size).toString('base64'))).toBe(size);
    }
  });
});
