// Admin: issue API keys and revoke them. The API has no route listing keys, so this page lists the keys issued
// from this tab, and revokes any other key by its id.
import { FormEvent, useEffect, useState } from 'react';
import type { Session } from '../App';
import type { ApiKeyIssued } from '../types';
import { IssuedKey, loadIssuedKeys, saveIssuedKeys } from '../session';
import { errorText, ErrorLine } from '../components/common';

export function KeysPage({ session }: { session: Session }) {
  const { api } = session;
  const [tenant, setTenant] = useState('');
  const [role, setRole] = useState<'user' | 'admin'>('user');
  const [name, setName] = useState('');
  const [issued, setIssued] = useState<IssuedKey[]>(loadIssuedKeys);
  const [fresh, setFresh] = useState<ApiKeyIssued | null>(null);
  const [revokeId, setRevokeId] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  // null while unknown. The API has no "who am I" route: naming a tenant in /v1/usage is admin-only, so that
  // read-only query (over an empty far-future day) tells, with a 403 for a user key.
  const [admin, setAdmin] = useState<boolean | null>(null);
  useEffect(() => {
    let stale = false;
    api
      .isAdmin()
      .then((answer) => !stale && setAdmin(answer))
      .catch((err) => !stale && setError(errorText(err)));
    return () => {
      stale = true;
    };
  }, [api]);

  const remember = (next: IssuedKey[]) => {
    setIssued(next);
    saveIssuedKeys(next);
  };

  const issue = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setNotice(null);
    try {
      const key = await api.issueKey({ tenant: tenant.trim(), role, name: name.trim() });
      setFresh(key);
      // The secret itself is shown once and never stored.
      remember([
        { id: key.id, name: key.name, tenant: key.tenant, role: key.role, revoked: false },
        ...issued,
      ]);
      setName('');
    } catch (err) {
      setError(errorText(err));
    }
  };

  const revoke = async (id: string) => {
    setError(null);
    setNotice(null);
    try {
      await api.revokeKey(id);
      remember(issued.map((key) => (key.id === id ? { ...key, revoked: true } : key)));
      setNotice(`Key ${id} is revoked.`);
      if (fresh?.id === id) setFresh(null);
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
      <h2>Issued in this tab</h2>
      <p className="muted">
        The API has no route that lists keys: keys issued elsewhere are revoked by id below.
      </p>
      {issued.length === 0 ? (
        <p className="muted">None yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Tenant</th>
              <th scope="col">Role</th>
              <th scope="col">Id</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {issued.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td>{key.tenant}</td>
                <td>{key.role}</td>
                <td>
                  <code>{key.id}</code>
                </td>
                <td>
                  {key.revoked ? (
                    'revoked'
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
      <form
        className="card row"
        onSubmit={(event) => {
          event.preventDefault();
          void revoke(revokeId.trim());
        }}
      >
        <label htmlFor="revoke-id">Key id</label>
        <input
          id="revoke-id"
          value={revokeId}
          onChange={(event) => setRevokeId(event.target.value)}
          required
        />
        <button type="submit" className="danger" disabled={!revokeId.trim()}>
          Revoke by id
        </button>
      </form>
      {notice && <p role="status">{notice}</p>}
      <ErrorLine error={error} />
    </div>
  );
}
