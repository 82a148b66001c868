// The AsyncAPI document as one self-contained HTML page for people: servers, channels with their operations, and
// every message with its payload table and example. No script and nothing fetched, so it works offline and under
// the API's content security policy (an inline style is allowed by it; scripts are not).
import type { AsyncApiDocument, JsonSchema } from '@lib/core';

type Ref = { $ref: string };

const STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 1080px; padding: 1.5rem; color: #1f2328; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; margin-top: 2.5rem; }
h3 { margin-top: 2rem; } h4 { margin: 1.2rem 0 .4rem; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; }
code { padding: .1rem .3rem; border-radius: 4px; } pre { padding: .8rem; border-radius: 6px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.field { white-space: nowrap; } td p { margin: 0 0 .3rem; }
.badge { display: inline-block; white-space: nowrap; font-size: 12px; border-radius: 10px; padding: 0 .5rem; color: #fff; }
.receive { background: #0969da; } .send { background: #1a7f37; } .muted { color: #59636e; }
nav ul { columns: 3; }
`;

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Escaped text, with `code spans` and paragraphs (blank lines) of the document's descriptions kept. */
function prose(text: string | undefined): string {
  if (!text) return '';
  return text
    .split(/\n\n+/)
    .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/`([^`]+)`/g, '<code>$1</code>')}</p>`)
    .join('');
}

const anchor = (kind: string, id: string) => `${kind}-${id.replace(/[^A-Za-z0-9_-]/g, '-')}`;

export function renderAsyncApiPage(document: AsyncApiDocument): string {
  const resolve = <T>(ref: Ref): T => {
    let node: unknown = document;
    for (const part of ref.$ref.replace(/^#\//, '').split('/')) {
      node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    if (node === undefined) throw new Error(`Unresolved reference ${ref.$ref}`);
    return node as T;
  };
  /** The component message id behind a message reference (a channel's message is itself a reference). */
  const messageId = (ref: Ref): string => {
    const target = resolve<Partial<Ref>>(ref);
    return target.$ref ? messageId(target as Ref) : ref.$ref.split('/').pop()!;
  };
  const messageLink = (ref: Ref): string => {
    const id = messageId(ref);
    const message = document.components.messages[id];
    return `<a href="#${anchor('message', id)}"><code>${escapeHtml(message.name)}</code></a>`;
  };

  const servers = Object.entries(document.servers)
    .map(([name, server]) => {
      const security = ((server.security as Ref[] | undefined) ?? [])
        .map((ref) => prose(resolve<{ description?: string }>(ref).description))
        .join('');
      return `<tr><td class="field"><code>${escapeHtml(name)}</code></td><td>${escapeHtml(String(server.protocol))}://${escapeHtml(String(server.host))}</td><td><strong>${escapeHtml(String(server.title ?? ''))}</strong>${prose(server.description as string)}</td><td>${security}</td></tr>`;
    })
    .join('');

  const channels = Object.entries(document.channels)
    .map(([channelId, channel]) => {
      const operations = Object.entries(document.operations)
        .filter(([, operation]) => operation.channel.$ref === `#/channels/${channelId}`)
        .map(([operationId, operation]) => {
          const direction = operation.action === 'receive' ? 'client → server' : 'server → client';
          const reply = operation.reply ? operation.reply.messages.map(messageLink).join(', ') : '';
          return `<tr><td class="field"><code>${escapeHtml(operationId)}</code></td><td><span class="badge ${operation.action}">${direction}</span></td><td>${operation.messages.map(messageLink).join(', ')}</td><td>${reply || '<span class="muted">—</span>'}</td><td>${prose(operation.summary)}</td></tr>`;
        })
        .join('');
      const address = channel.address === null ? '(acknowledgement callback)' : channel.address;
      const ops = operations
        ? `<table><tr><th>operation</th><th>direction</th><th>messages</th><th>acknowledgement</th><th>summary</th></tr>${operations}</table>`
        : `<p class="muted">Replies to the operations of another channel: ${Object.values(channel.messages).map(messageLink).join(', ')}.</p>`;
      return `<section id="${anchor('channel', channelId)}"><h3>${escapeHtml(channel.title)}</h3><p><code>${escapeHtml(address)}</code></p>${prose(channel.description)}${ops}</section>`;
    })
    .join('');

  const messages = Object.entries(document.components.messages)
    .map(([id, message]) => {
      const schema = resolve<JsonSchema>(message.payload);
      const examples = message.examples
        .map((example) => `<pre>${escapeHtml(JSON.stringify(example.payload, null, 2))}</pre>`)
        .join('');
      return `<section id="${anchor('message', id)}"><h3><code>${escapeHtml(message.name)}</code>${message.title === message.name ? '' : ` <span class="muted">${escapeHtml(message.title)}</span>`}</h3>${prose(schema.description ?? message.summary)}${schemaTables(schema)}<h4>Example</h4>${examples}</section>`;
    })
    .join('');

  const index = Object.entries(document.components.messages)
    .map(([id, message]) => `<li><a href="#${anchor('message', id)}">${escapeHtml(message.title)}</a></li>`)
    .join('');

  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.info.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(document.info.title)}</h1>
<p class="muted">AsyncAPI ${escapeHtml(document.asyncapi)} · version ${escapeHtml(document.info.version)} · <a href="asyncapi.json">asyncapi.json</a> · REST: <a href="../docs">/docs</a></p>
${prose(document.info.description)}
<nav><h2>Messages</h2><ul>${index}</ul></nav>
<h2>Servers</h2>
<table><tr><th>server</th><th>URL</th><th>description</th><th>authentication</th></tr>${servers}</table>
<h2>Channels and operations</h2>
${channels}
<h2>Messages</h2>
${messages}
</body></html>
`;
}

/** A payload as tables: the object's fields, or one table per alternative of a `oneOf`. */
function schemaTables(schema: JsonSchema): string {
  if (schema.oneOf) {
    return schema.oneOf
      .map(
        (alternative, i) =>
          `<h4>${i === 0 ? 'One of' : 'or'}</h4>${prose(alternative.description)}${schemaTables({ ...alternative, description: undefined })}`,
      )
      .join('');
  }
  const rows = fieldRows(schema, '');
  const open =
    schema.additionalProperties === false ? '' : '<p class="muted">Other fields may appear; ignore them.</p>';
  return `<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>${rows}</table>${schema.additionalProperties === false ? '<p class="muted">No other fields are accepted.</p>' : open}`;
}

function fieldRows(schema: JsonSchema, prefix: string): string {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .map(([name, field]) => {
      const path = `${prefix}${name}`;
      const row = `<tr><td class="field"><code>${escapeHtml(path)}</code></td><td>${escapeHtml(typeOf(field))}</td><td>${required.has(name) ? 'yes' : 'no'}</td><td>${prose(field.description)}${constraints(field)}</td></tr>`;
      return field.properties ? row + fieldRows(field, `${path}.`) : row;
    })
    .join('');
}

function typeOf(field: JsonSchema): string {
  const types = field.type === undefined ? ['any'] : ([] as string[]).concat(field.type);
  return types.join(' | ') + (field.format ? ` (${field.format})` : '');
}

function constraints(field: JsonSchema): string {
  const parts: string[] = [];
  if (field.enum)
    parts.push(`one of ${field.enum.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(', ')}`);
  if (field.const !== undefined) parts.push(`always <code>${escapeHtml(JSON.stringify(field.const))}</code>`);
  if (field.minimum !== undefined) parts.push(`≥ ${field.minimum}`);
  if (field.maximum !== undefined) parts.push(`≤ ${field.maximum}`);
  if (field.minLength !== undefined || field.maxLength !== undefined) {
    parts.push(`${field.minLength ?? 0}..${field.maxLength ?? '∞'} characters`);
  }
  if (field.pattern) parts.push(`matches <code>${escapeHtml(field.pattern)}</code>`);
  return parts.length ? `<p class="muted">${parts.join('; ')}</p>` : '';
}
