// MCP servers: the tools the tenant's agents can call from other services. Everyone sees the servers and their
// tools; an admin key registers one (its headers are sent once and never shown again) and removes one.
import { FormEvent, useCallback, useState } from 'react';
import type { Session } from '../App';
import type { McpServer } from '../types';
import { errorText, ErrorLine, Json, useAdmin, useLoad } from '../components/common';

/** `Name: value` lines into a headers object; a line without a colon is an error naming it. */
function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [index, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    const at = line.indexOf(':');
    if (at <= 0) throw new Error(`Header line ${index + 1} is not "Name: value".`);
    headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

export function McpServersPage({ session }: { session: Session }) {
  const { api } = session;
  const [servers, setServers] = useState<McpServer[] | null>(null);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [headers, setHeaders] = useState('');
  const [everyTenant, setEveryTenant] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const admin = useAdmin(api, setError);

  const load = useCallback(async () => setServers(await api.mcpServers()), [api]);

  useLoad(load, setError);

  const register = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setNotice(null);
    setBusy(true);
    try {
      const parsed = parseHeaders(headers);
      const created = await api.createMcpServer({
        name: name.trim(),
        url: url.trim(),
        ...(Object.keys(parsed).length ? { headers: parsed } : {}),
        ...(everyTenant ? { tenant: null } : {}),
      });
      setNotice(`Registered ${created.name} with ${created.tools.length} tools.`);
      setName('');
      setUrl('');
      setHeaders('');
      await load();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (server: McpServer) => {
    setError(null);
    setNotice(null);
    try {
      await api.deleteMcpServer(server.id);
      setNotice(`Removed ${server.name}.`);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <div className="mcp">
      <h1>MCP servers</h1>
      <p className="muted">
        An agent names a server's tools as <code>server__tool</code>, or <code>server__*</code> for all of
        them.
      </p>
      {!servers ? (
        <p aria-busy="true">Loading servers…</p>
      ) : servers.length === 0 ? (
        <p className="muted">No MCP servers yet.</p>
      ) : (
        <ul className="cards">
          {servers.map((server) => (
            <li key={server.id} className="card" data-mcp-server={server.name}>
              <h2>{server.name}</h2>
              <p>
                <code>{server.url}</code> ·{' '}
                {server.tenant === null ? 'every tenant' : `tenant ${server.tenant}`}
                {server.has_headers ? ' · headers stored' : ''} · tools read{' '}
                {new Date(server.tools_refreshed_at).toLocaleString()}
              </p>
              <details>
                <summary>{server.tools.length} tools</summary>
                <ul>
                  {server.tools.map((tool) => (
                    <li key={tool.name}>
                      <code>{tool.name}</code> — {tool.description}
                      <Json value={tool.input_schema} label={`Input schema of ${tool.name}`} />
                    </li>
                  ))}
                </ul>
              </details>
              {admin && (
                <button
                  type="button"
                  className="danger"
                  aria-label={`Remove ${server.name}`}
                  onClick={() => remove(server)}
                >
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {admin === false && (
        <p className="card" data-needs-admin>
          Registering and removing servers needs an admin API key.
        </p>
      )}
      {admin && (
        <form className="card" onSubmit={register}>
          <h2>Register a server</h2>
          <label htmlFor="mcp-name">Server name</label>
          <input id="mcp-name" value={name} onChange={(event) => setName(event.target.value)} required />
          <label htmlFor="mcp-url">Server URL</label>
          <input
            id="mcp-url"
            type="url"
            value={url}
            placeholder="https://mcp.example.com/mcp"
            onChange={(event) => setUrl(event.target.value)}
            required
          />
          <label htmlFor="mcp-headers">
            Headers (one "Name: value" per line; stored encrypted, never shown again)
          </label>
          <textarea
            id="mcp-headers"
            rows={2}
            value={headers}
            onChange={(event) => setHeaders(event.target.value)}
          />
          <label className="row">
            <input
              type="checkbox"
              checked={everyTenant}
              onChange={(event) => setEveryTenant(event.target.checked)}
            />
            For every tenant
          </label>
          <button type="submit" disabled={busy || !name.trim() || !url.trim()}>
            Register server
          </button>
        </form>
      )}
      {notice && <p role="status">{notice}</p>}
      <ErrorLine error={error} />
    </div>
  );
}
