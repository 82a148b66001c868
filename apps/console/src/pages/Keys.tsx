// Admin: the deployment's API keys (every tenant's, newest first), issue one, revoke one.
import { FormEvent, useCallback, useEffect, useState } from 'react';
import type { Session } from '../App';
import type { ApiKeyIssued, ApiKeyList } from '../types';
import { errorText, ErrorLine, useAdmin } from '../components/common';

const PAGE_SIZE = 20;

export function KeysPage({ session }: { session: Session }) {
  const { api } = session;
  const [tenant, setTenant] = useState('');
  const [role, setRole] = useState<'user' | 'admin'>('user');
  const [name, setName] = useState('');
  const [list, setList] = useState<ApiKeyList | null>(null);
  const [page, setPage] = useState(1);
  const [showRevoked, setShowRevoked] = useState(false);
  const [fresh, setFresh] = useState<ApiKeyIssued | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  // null while unknown: listing keys is admin-only, a user key gets a 403.
  const admin = useAdmin(api, setError);

  const reload = useCallback(async () => {
    try {
      setList(await api.keys(page, showRevoked, PAGE_SIZE));
    } catch (err) {
      setError(errorText(err));
    }
  }, [api, page, showRevoked]);

  useEffect(() => {
    if (admin) void reload();
  }, [admin, reload]);

  const issue = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setNotice(null);
    try {
      const key = await api.issueKey({ tenant: tenant.trim(), role, name: name.trim() });
      // The secret itself is shown once and never stored.
      setFresh(key);
      setName('');
      setPage(1);
      await reload();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const revoke = async (id: string) => {
    setError(null);
    setNotice(null);
    try {
      await api.revokeKey(id);
      setNotice(`Key ${id} is revoked.`);
      if (fresh?.id === id) setFresh(null);
      await reload();
    } catch (err) {
      setError(errorText(err));
    }
  };

  if (admin === false) {
    return (
      <div className="keys">
        <h1>API keys</h1>
        <p className="card" data-needs-admin>
          Issuing and revoking keys needs an admin API key; this tab is signed in with a user key.
        </p>
      </div>
    );
  }
  if (admin === null) {
    return (
      <div className="keys">
        <h1>API keys</h1>
        {error ? <ErrorLine error={error} /> : <p aria-busy="true">Checking the key's role…</p>}
      </div>
    );
  }

  return (
    <div className="keys">
      <h1>API keys</h1>
      <form className="card" onSubmit={issue}>
        <h2>Issue a key</h2>
        <label htmlFor="key-tenant">Tenant</label>
        <input id="key-tenant" value={tenant} onChange={(event) => setTenant(event.target.value)} required />
        <label htmlFor="key-role">Role</label>
        <select
          id="key-role"
          value={role}
          onChange={(event) => setRole(event.target.value as 'user' | 'admin')}
        >
          <option value="user">user</option>
          <option value="admin">admin</option>
        </select>
        <label htmlFor="key-name">Name</label>
        <input id="key-name" value={name} onChange={(event) => setName(event.target.value)} required />
        <button type="submit" disabled={!tenant.trim() || !name.trim()}>
          Issue key
        </button>
      </form>
      {fresh && (
        <div className="card" role="status">
          <p>
            The new key for <strong>{fresh.name}</strong>, shown this once:
          </p>
          <code className="secret" data-new-key>
            {fresh.key}
          </code>
        </div>
      )}
      <h2>Keys</h2>
      <label className="row">
        <input
          type="checkbox"
          checked={showRevoked}
          onChange={(event) => {
            setShowRevoked(event.target.checked);
            setPage(1);
          }}
        />
        Show revoked keys
      </label>
      {!list ? (
        <p aria-busy="true">Loading keys…</p>
      ) : list.keys.length === 0 ? (
        <p className="muted">No keys.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Tenant</th>
              <th scope="col">Role</th>
              <th scope="col">Key</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {list.keys.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>{key.tenant}</td>
                <td>{key.role}</td>
                <td>
                  <code title={key.id}>{key.prefix}…</code>
                </td>
                <td>{new Date(key.created_at).toLocaleString()}</td>
                <td>{key.last_used_at ? new Date(key.last_used_at).toLocaleString() : 'never'}</td>
                <td>
                  {key.revoked_at ? (
                    `revoked ${new Date(key.revoked_at).toLocaleString()}`
                  ) : (
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Revoke ${key.name}`}
                      onClick={() => revoke(key.id)}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list && list.total > PAGE_SIZE && (
        <nav className="pager" aria-label="Key pages">
          <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
            Previous page
          </button>
          <span>
            Page {page} of {Math.max(1, Math.ceil((list?.total ?? 0) / PAGE_SIZE))}
          </span>
          <button
            type="button"
            disabled={page >= Math.max(1, Math.ceil((list?.total ?? 0) / PAGE_SIZE))}
            onClick={() => setPage(page + 1)}
          >
            Next page
          </button>
        </nav>
      )}
      {notice && <p role="status">{notice}</p>}
      <ErrorLine error={error} />
    </div>
  );
}
