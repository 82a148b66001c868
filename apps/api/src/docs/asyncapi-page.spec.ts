import { buildAsyncApiDocument, CLIENT_EVENT_NAMES, SERVER_EVENT_NAMES } from '@lib/core';
import { renderAsyncApiPage } from './asyncapi-page';

describe('renderAsyncApiPage', () => {
  const document = buildAsyncApiDocument({ host: 'api.example.com', secure: true });

  it('gives every message a section with a row per payload field', () => {
    const html = renderAsyncApiPage(document);
    for (const name of [...SERVER_EVENT_NAMES, ...CLIENT_EVENT_NAMES]) {
      expect(html).toContain(`<code>${name}</code>`);
    }
    const join = html.slice(html.indexOf('id="message-client_join"'));
    expect(join.slice(0, join.indexOf('</section>'))).toMatch(
      /<code>after_seq<\/code><\/td><td>integer<\/td><td>no<\/td>/,
    );
    expect(html).toContain('wss://api.example.com');
    expect(html).toContain('<a href="#message-join_ack"><code>join acknowledgement</code></a>');
  });

  it('escapes the text of the document, keeping `code spans` as code', () => {
    const hostile = structuredClone(document);
    hostile.info.description = 'Use `<b>` here <img src=x onerror=alert(1)>';
    hostile.servers.socket.host = '"><script>alert(1)</script>';
    const html = renderAsyncApiPage(hostile);
    expect(html).toContain('Use <code>&#60;b&#62;</code> here &#60;img src=x onerror=alert(1)&#62;');
    expect(html).not.toMatch(/<script|<img/);
  });
});
