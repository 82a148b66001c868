// The agents the tenant can use; an admin key also creates them, saves new versions and deletes them.
import { FormEvent, useCallback, useState } from 'react';
import type { Session } from '../App';
import type { Agent, AgentBody, ToolInfo } from '../types';
import { errorText, ErrorLine, useAdmin, useLoad } from '../components/common';

interface Draft {
  /** Set while editing an existing agent: its name cannot change. */
  editing: string | null;
  name: string;
  description: string;
  systemPrompt: string;
  maxIterations: string;
  everyTenant: boolean;
  /** Chosen tools, in the catalogue's order, and whether each call waits for approval. */
  tools: Record<string, { chosen: boolean; approval: boolean }>;
}

const EMPTY: Draft = {
  editing: null,
  name: '',
  description: '',
  systemPrompt: '',
  maxIterations: '6',
  everyTenant: false,
  tools: {},
};

export function AgentsPage({ session }: { session: Session }) {
  const { api } = session;
  const [agents, setAgents] = useState<Agent[] | null>(null);
  const [catalog, setCatalog] = useState<ToolInfo[]>([]);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const admin = useAdmin(api, setError);

  const load = useCallback(async () => {
    const [list, tools] = await Promise.all([api.agents(), api.tools()]);
    setAgents(list);
    setCatalog(tools);
  }, [api]);

  useLoad(load, setError);

  const edit = async (name: string) => {
    setError(null);
    setNotice(null);
    try {
      const agent = await api.agent(name);
      const tools: Draft['tools'] = {};
      for (const tool of agent.tools) tools[tool.name] = { chosen: true, approval: tool.requires_approval };
      setDraft({
        editing: agent.name,
        name: agent.name,
        description: agent.description,
        systemPrompt: agent.system_prompt,
        maxIterations: String(agent.max_iterations),
        everyTenant: agent.tenant === null,
        tools,
      });
    } catch (err) {
      setError(errorText(err));
    }
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setNotice(null);
    const body: AgentBody = {
      description: draft.description.trim(),
      system_prompt: draft.systemPrompt,
      max_iterations: Number(draft.maxIterations),
      tools: Object.entries(draft.tools)
        .filter(([, t]) => t.chosen)
        .map(([name, t]) => (t.approval ? { name, requires_approval: true } : name)),
    };
    try {
      const saved = draft.editing
        ? await api.updateAgent(draft.editing, { ...body, tenant: draft.everyTenant ? null : undefined })
        : await api.createAgent({
            ...body,
            name: draft.name.trim(),
            ...(draft.everyTenant ? { tenant: null } : {}),
          });
      setNotice(`Saved ${saved.name} version ${saved.version}.`);
      setDraft(EMPTY);
      await load();
      session.reloadAgents();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const remove = async (name: string) => {
    setError(null);
    setNotice(null);
    try {
      await api.deleteAgent(name);
      setNotice(`Deleted ${name}.`);
      if (draft.editing === name) setDraft(EMPTY);
      await load();
      session.reloadAgents();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const setTool = (name: string, change: Partial<{ chosen: boolean; approval: boolean }>) =>
    setDraft((d) => ({
      ...d,
      tools: { ...d.tools, [name]: { ...(d.tools[name] ?? { chosen: false, approval: false }), ...change } },
    }));

  return (
    <div className="agents">
      <h1>Agents</h1>
      {agents === null ? (
        <p aria-busy="true">Loading…</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Owner</th>
              <th scope="col">Version</th>
              <th scope="col">Description</th>
              <th scope="col">Tools</th>
              {admin && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {agents.map((agent) => (
              <tr key={agent.name}>
                <td>{agent.name}</td>
                <td>{agent.tenant ?? 'every tenant'}</td>
                <td>{agent.version ?? '—'}</td>
                <td>{agent.description}</td>
                <td>{agent.tools.join(', ')}</td>
                {admin && (
                  <td className="row">
                    <button
                      type="button"
                      className="secondary"
                      aria-label={`Edit ${agent.name}`}
                      onClick={() => void edit(agent.name)}
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Delete ${agent.name}`}
                      onClick={() => void remove(agent.name)}
                    >
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {admin === false && (
        <p className="card" data-needs-admin>
          Creating and editing agents needs an admin API key; this tab is signed in with a user key.
        </p>
      )}
      {admin && (
        <form className="card" onSubmit={save}>
          <h2>{draft.editing ? `Edit ${draft.editing} (saves a new version)` : 'Create an agent'}</h2>
          <label htmlFor="agent-name">Agent name</label>
          <input
            id="agent-name"
            value={draft.name}
            disabled={draft.editing !== null}
            pattern="[a-z][a-z0-9_\-]{0,63}"
            onChange={(event) => setDraft({ ...draft, name: event.target.value })}
            required
          />
          <label htmlFor="agent-description">Description</label>
          <input
            id="agent-description"
            value={draft.description}
            onChange={(event) => setDraft({ ...draft, description: event.target.value })}
            required
          />
          <label htmlFor="agent-prompt">System prompt</label>
          <textarea
            id="agent-prompt"
            rows={6}
            value={draft.systemPrompt}
            onChange={(event) => setDraft({ ...draft, systemPrompt: event.target.value })}
            required
          />
          <label htmlFor="agent-iterations">Max iterations</label>
          <input
            id="agent-iterations"
            type="number"
            min={1}
            max={25}
            value={draft.maxIterations}
            onChange={(event) => setDraft({ ...draft, maxIterations: event.target.value })}
          />
          <fieldset>
            <legend>Tools</legend>
            {catalog.map((tool) => (
              <div key={tool.name} className="row">
                <label>
                  <input
                    type="checkbox"
                    checked={draft.tools[tool.name]?.chosen ?? false}
                    onChange={(event) => setTool(tool.name, { chosen: event.target.checked })}
                  />{' '}
                  {tool.name} <span className="muted">({tool.origin})</span>
                </label>
                <label>
                  <input
                    type="checkbox"
                    aria-label={`${tool.name} needs approval`}
                    checked={draft.tools[tool.name]?.approval ?? false}
                    disabled={!draft.tools[tool.name]?.chosen}
                    onChange={(event) => setTool(tool.name, { approval: event.target.checked })}
                  />{' '}
                  needs approval
                </label>
              </div>
            ))}
          </fieldset>
          <label>
            <input
              type="checkbox"
              checked={draft.everyTenant}
              disabled={draft.editing !== null}
              onChange={(event) => setDraft({ ...draft, everyTenant: event.target.checked })}
            />{' '}
            For every tenant
          </label>
          <div className="row">
            <button type="submit">{draft.editing ? 'Save new version' : 'Create agent'}</button>
            {draft.editing && (
              <button type="button" className="secondary" onClick={() => setDraft(EMPTY)}>
                Cancel
              </button>
            )}
          </div>
        </form>
      )}
      {notice && <p role="status">{notice}</p>}
      <ErrorLine error={error} />
    </div>
  );
}
