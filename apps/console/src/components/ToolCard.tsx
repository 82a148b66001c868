// One tool call as a collapsible card: name, state and duration in the summary; arguments and result inside.
import { Json } from './common';

export interface ToolCardProps {
  name: string;
  arguments: unknown;
  result?: unknown;
  durationMs?: number;
  isError?: boolean;
  running?: boolean;
}

export function ToolCard({ name, arguments: args, result, durationMs, isError, running }: ToolCardProps) {
  const state = running ? 'running' : isError ? 'error' : 'ok';
  return (
    <details className={`tool-card ${state}`} data-tool={name}>
      <summary>
        <span className="tool-name">{name}</span>
        <span className={`badge ${state}`}>{running ? 'running…' : isError ? 'error' : 'ok'}</span>
        {durationMs !== undefined && <span className="muted">{durationMs} ms</span>}
      </summary>
      <div className="tool-body">
        <h4>Arguments</h4>
        <Json value={args ?? {}} label={`Arguments of ${name}`} />
        <h4>Result</h4>
        {running ? (
          <p className="muted">Waiting for the tool…</p>
        ) : (
          <Json value={result ?? '—'} label={`Result of ${name}`} />
        )}
      </div>
    </details>
  );
}
