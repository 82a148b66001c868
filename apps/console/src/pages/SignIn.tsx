import { FormEvent, useState } from 'react';

export function SignIn({
  onSignIn,
  error,
}: {
  onSignIn: (key: string) => Promise<void>;
  error: string | null;
}) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      await onSignIn(key.trim());
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="signin">
      <h1>Agent backend console</h1>
      <p>
        Sign in with an API key. It stays in this tab only (session storage) and is sent as a bearer token.
      </p>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(event) => setKey(event.target.value)}
          placeholder="ak_live_…"
          required
          aria-describedby={error ? 'signin-error' : undefined}
        />
        <button type="submit" disabled={busy || !key.trim()}>
          Sign in
        </button>
      </form>
      {error && (
        <p id="signin-error" className="error" role="alert">
          {error}
        </p>
      )}
      <p className="hint">
        A development server writes its local admin key to <code>.local-admin-key</code>; more keys come from{' '}
        <code>npm run keys:create</code>.
      </p>
    </main>
  );
}
