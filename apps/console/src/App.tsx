// The shell: sign-in, the navigation, the offline-model banner, and the page the location's hash names.
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import type { Socket } from 'socket.io-client';
import { Api, ApiError } from './api';
import { forgetAll, storedKey, storeKey } from './session';
import { connectChat } from './socket';
import type { Agent } from './types';
import { SignIn } from './pages/SignIn';
import { ChatPage } from './pages/Chat';
import { TasksPage } from './pages/Tasks';
import { ApprovalsPage } from './pages/Approvals';
import { KeysPage } from './pages/Keys';
import { AgentsPage } from './pages/Agents';

// The chart library is only loaded when the cost page opens.
const CostPage = lazy(() => import('./pages/Cost').then((module) => ({ default: module.CostPage })));

const PAGES = [
  { id: 'chat', label: 'Chat' },
  { id: 'tasks', label: 'Tasks' },
  { id: 'approvals', label: 'Approvals' },
  { id: 'cost', label: 'Cost' },
  { id: 'agents', label: 'Agents' },
  { id: 'keys', label: 'API keys' },
] as const;

export interface Route {
  page: string;
  id?: string;
}

function readRoute(): Route {
  const [page = 'chat', id] = window.location.hash.replace(/^#\/?/, '').split('/');
  return { page: page || 'chat', id: id || undefined };
}

export function navigate(route: Route): void {
  window.location.hash = `/${route.page}${route.id ? `/${route.id}` : ''}`;
}

export interface Session {
  api: Api;
  socket: Socket;
  agents: Agent[];
  /** Reads the agents again (after one was created, edited or deleted). */
  reloadAgents: () => void;
}

export function App() {
  const [key, setKey] = useState<string | null>(() => storedKey());
  const [signInError, setSignInError] = useState<string | null>(null);
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [route, setRoute] = useState<Route>(readRoute);
  const [socketError, setSocketError] = useState<string | null>(null);

  const api = useMemo(() => (key ? new Api(key) : null), [key]);

  const signOut = useCallback((message: string | null = null) => {
    forgetAll();
    setKey(null);
    setAgents(null);
    setSignInError(message);
  }, []);

  /** Checks a key against an authenticated route: a wrong key is a 401 whose message is shown. */
  const signIn = useCallback(async (candidate: string) => {
    const probe = new Api(candidate);
    try {
      const list = await probe.agents();
      storeKey(candidate);
      setSignInError(null);
      setAgents(list);
      setKey(candidate);
    } catch (error) {
      setSignInError(error instanceof ApiError ? error.message : String(error));
    }
  }, []);

  useEffect(() => {
    const onHash = () => setRoute(readRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  // A key restored from the tab's session storage: load what sign-in loads.
  useEffect(() => {
    if (!api || agents) return;
    let stale = false;
    api
      .agents()
      .then((list) => !stale && setAgents(list))
      .catch((error: unknown) => {
        if (stale) return;
        if (error instanceof ApiError && error.status === 401) signOut(error.message);
        else setSocketError(error instanceof Error ? error.message : String(error));
      });
    return () => {
      stale = true;
    };
  }, [api, agents, signOut]);

  // One connection per signed-in key, opened and closed by this effect (never during render).
  const [socket, setSocket] = useState<Socket | null>(null);
  useEffect(() => {
    if (!key) return;
    const connection = connectChat(key);
    const onConnect = () => setSocketError(null);
    const onConnectError = (error: Error) => {
      if (error.message === 'unauthorized')
        signOut('The API key was refused for live updates (unauthorized).');
      else setSocketError(`Live updates are disconnected: ${error.message}`);
    };
    const onDisconnect = () => setSocketError('Live updates are disconnected; reconnecting…');
    connection.on('connect', onConnect);
    connection.on('connect_error', onConnectError);
    connection.on('disconnect', onDisconnect);
    setSocket(connection);
    return () => {
      connection.off('connect', onConnect);
      connection.off('connect_error', onConnectError);
      connection.off('disconnect', onDisconnect);
      connection.disconnect();
      setSocket(null);
    };
  }, [key, signOut]);

  if (!key || !api) return <SignIn onSignIn={signIn} error={signInError} />;

  const offline =
    agents !== null && agents.length > 0 && agents.every((agent) => agent.model === 'offline-demo');
  const reloadAgents = () => {
    api
      .agents()
      .then(setAgents)
      .catch((error: unknown) => setSocketError(error instanceof Error ? error.message : String(error)));
  };
  const session: Session | null = agents && socket ? { api, socket, agents, reloadAgents } : null;

  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">Agent backend</span>
        <nav aria-label="Console pages">
          <ul>
            {PAGES.map((page) => (
              <li key={page.id}>
                <a href={`#/${page.id}`} aria-current={route.page === page.id ? 'page' : undefined}>
                  {page.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" className="secondary" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      {offline && (
        <div className="banner" role="status">
          <strong>Offline demo model.</strong> No provider key is configured on this server: answers come from
          a deterministic demo model that calls the real tools, not from Claude.
        </div>
      )}
      {socketError && (
        <div className="banner warn" role="status">
          {socketError}
        </div>
      )}
      <main id="main">
        {!session ? (
          <p aria-busy="true">Loading…</p>
        ) : route.page === 'tasks' ? (
          <TasksPage session={session} taskId={route.id} />
        ) : route.page === 'approvals' ? (
          <ApprovalsPage session={session} />
        ) : route.page === 'cost' ? (
          <Suspense fallback={<p aria-busy="true">Loading charts…</p>}>
            <CostPage session={session} />
          </Suspense>
        ) : route.page === 'agents' ? (
          <AgentsPage session={session} />
        ) : route.page === 'keys' ? (
          <KeysPage session={session} />
        ) : (
          <ChatPage session={session} conversationId={route.id} />
        )}
      </main>
    </div>
  );
}
