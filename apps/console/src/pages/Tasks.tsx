// Tasks: create one, follow its progress live (subscribe_task), read its result, and its webhook deliveries.
import { FormEvent, useCallback, useEffect, useState } from 'react';
import type { Session } from '../App';
import { navigate } from '../App';
import { ApiError } from '../api';
import { emitAck } from '../socket';
import type { Delivery, TaskPage, TaskStatus } from '../types';
import { count, errorText, ErrorLine, usd, when } from '../components/common';

const PAGE_SIZE = 20;

function taskError(error: TaskStatus['error']): string | null {
  if (!error) return null;
  return typeof error === 'string' ? error : (error.message ?? JSON.stringify(error));
}

export function TasksPage({ session, taskId }: { session: Session; taskId?: string }) {
  const { api, socket, agents } = session;
  const [agentName, setAgentName] = useState(
    () => agents.find((a) => a.name === 'support')?.name ?? agents[0]?.name ?? '',
  );
  const [instruction, setInstruction] = useState('');
  const [webhookUrl, setWebhookUrl] = useState('');
  const [creating, setCreating] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [page, setPage] = useState(1);
  const [list, setList] = useState<TaskPage | null>(null);
  const [listVersion, setListVersion] = useState(0);
  const [task, setTask] = useState<TaskStatus | null>(null);

  useEffect(() => {
    let stale = false;
    api
      .tasks(page, PAGE_SIZE)
      .then((answer) => !stale && setList(answer))
      .catch((err) => !stale && setError(errorText(err)));
    return () => {
      stale = true;
    };
  }, [api, page, listVersion]);

  // The open task: subscribed first, then read, so no progress between the two is missed (again on reconnect).
  useEffect(() => {
    setTask(null);
    if (!taskId) return;
    let stale = false;
    const follow = () => {
      emitAck(socket, 'subscribe_task', { task_id: taskId })
        .then(() => api.task(taskId))
        .then(
          (status) =>
            !stale && setTask((previous) => (previous && isLater(previous, status) ? previous : status)),
        )
        .catch((err) => !stale && setError(errorText(err)));
    };
    if (socket.connected) follow();
    socket.on('connect', follow);
    return () => {
      stale = true;
      socket.off('connect', follow);
    };
  }, [api, socket, taskId]);

  useEffect(() => {
    const onProgress = (payload: { task_id: string; status: TaskStatus['status']; progress: number }) => {
      if (payload.task_id !== taskId) return;
      setTask((previous) =>
        previous ? { ...previous, status: payload.status, progress: payload.progress } : previous,
      );
    };
    const onDone = (payload: TaskStatus) => {
      if (payload.task_id === taskId) setTask(payload);
      setListVersion((v) => v + 1);
    };
    socket.on('task_progress', onProgress);
    socket.on('task_done', onDone);
    return () => {
      socket.off('task_progress', onProgress);
      socket.off('task_done', onDone);
    };
  }, [socket, taskId]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setCreating(true);
    setError(null);
    try {
      const created = await api.createTask({
        agent_name: agentName,
        instruction: instruction.trim(),
        ...(webhookUrl.trim() ? { webhook_url: webhookUrl.trim() } : {}),
      });
      setInstruction('');
      setListVersion((v) => v + 1);
      navigate({ page: 'tasks', id: created.task_id });
    } catch (err) {
      setError(errorText(err));
    } finally {
      setCreating(false);
    }
  };

  const cancel = async () => {
    if (!taskId) return;
    try {
      setTask(await api.cancelTask(taskId));
    } catch (err) {
      setError(errorText(err));
    }
  };

  const pages = list ? Math.max(1, Math.ceil(list.total / PAGE_SIZE)) : 1;
  const finished = task && ['completed', 'failed', 'cancelled'].includes(task.status);

  return (
    <div className="tasks">
      <section aria-labelledby="new-task">
        <h1 id="new-task">Tasks</h1>
        <form className="card" onSubmit={create}>
          <label htmlFor="task-agent">Agent</label>
          <select id="task-agent" value={agentName} onChange={(event) => setAgentName(event.target.value)}>
            {agents.map((agent) => (
              <option key={agent.name} value={agent.name}>
                {agent.name}
              </option>
            ))}
          </select>
          <label htmlFor="instruction">Instruction</label>
          <textarea
            id="instruction"
            rows={3}
            value={instruction}
            onChange={(event) => setInstruction(event.target.value)}
          />
          <label htmlFor="webhook-url">Webhook URL (optional)</label>
          <input
            id="webhook-url"
            type="url"
            value={webhookUrl}
            onChange={(event) => setWebhookUrl(event.target.value)}
          />
          <button type="submit" disabled={creating || !instruction.trim()}>
            Create task
          </button>
        </form>
        <ErrorLine error={error} />
      </section>

      {task && (
        <section className="card task-detail" aria-labelledby="task-title">
          <h2 id="task-title">Task {task.task_id.slice(0, 8)}</h2>
          <p>
            Status: <strong data-task-status>{task.status}</strong> · {task.agent_name} · created{' '}
            {when(task.created_at)}
          </p>
          <label htmlFor="task-progress">Progress</label>
          <progress id="task-progress" max={1} value={task.progress}>
            {Math.round(task.progress * 100)}%
          </progress>
          {!finished && (
            <button type="button" className="danger" onClick={cancel}>
              Cancel task
            </button>
          )}
          {task.result && (
            <>
              <h3>Result</h3>
              <p className="task-result">{task.result}</p>
            </>
          )}
          {taskError(task.error) && <p className="error">{taskError(task.error)}</p>}
          <p className="muted">
            {count(task.total_tokens)} tokens · {usd(task.cost_usd)}
            {task.finished_at ? ` · finished ${when(task.finished_at)}` : ''}
          </p>
          <Deliveries session={session} taskId={task.task_id} finished={Boolean(finished)} />
        </section>
      )}

      <section aria-labelledby="task-list">
        <h2 id="task-list">Recent tasks</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Agent</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
              <th scope="col">Cost</th>
            </tr>
          </thead>
          <tbody>
            {list?.tasks.map((row) => (
              <tr key={row.task_id}>
                <td>
                  <a href={`#/tasks/${row.task_id}`}>{row.task_id.slice(0, 8)}</a>
                </td>
                <td>{row.agent_name}</td>
                <td>{row.status}</td>
                <td>{when(row.created_at)}</td>
                <td>{usd(row.cost_usd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div className="pager">
          <button
            type="button"
            className="secondary"
            disabled={page <= 1}
            onClick={() => setPage((p) => p - 1)}
          >
            Previous page
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button
            type="button"
            className="secondary"
            disabled={page >= pages}
            onClick={() => setPage((p) => p + 1)}
          >
            Next page
          </button>
        </div>
      </section>
    </div>
  );
}

const ORDER = ['queued', 'running', 'completed', 'failed', 'cancelled'];
function isLater(a: TaskStatus, b: TaskStatus): boolean {
  return ORDER.indexOf(a.status) > ORDER.indexOf(b.status);
}

function Deliveries({ session, taskId, finished }: { session: Session; taskId: string; finished: boolean }) {
  const { api } = session;
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const answer = await api.deliveries(taskId);
      setDeliveries(answer.deliveries);
      setUnavailable(false);
    } catch (err) {
      // The task itself was found: a 404 here means this server has no deliveries route.
      if (err instanceof ApiError && err.status === 404) setUnavailable(true);
      else setError(errorText(err));
    }
  }, [api, taskId]);

  useEffect(() => {
    void load();
  }, [load, finished]);

  const redeliver = async () => {
    setError(null);
    try {
      await api.redeliver(taskId);
      setNotice('A new delivery attempt was queued.');
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <section aria-labelledby="deliveries">
      <h3 id="deliveries">Webhook deliveries</h3>
      {unavailable ? (
        <p className="muted" data-unavailable>
          Webhook deliveries are not available on this server.
        </p>
      ) : deliveries && deliveries.length === 0 ? (
        <p className="muted">No deliveries (a task without a webhook URL sends none).</p>
      ) : (
        deliveries && (
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Attempt</th>
                <th scope="col">Status</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((delivery) => (
                <tr key={`${delivery.webhook_id}-${delivery.attempt}-${delivery.at}`}>
                  <td>{when(delivery.at)}</td>
                  <td>{delivery.event}</td>
                  <td>{delivery.attempt}</td>
                  <td>{delivery.status_code ?? delivery.error ?? '—'}</td>
                  <td>{delivery.duration_ms === null ? '—' : `${delivery.duration_ms} ms`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      )}
      {!unavailable && deliveries && deliveries.length > 0 && (
        <button type="button" className="secondary" onClick={redeliver}>
          Redeliver
        </button>
      )}
      {notice && <p role="status">{notice}</p>}
      <ErrorLine error={error} />
    </section>
  );
}
