// Approvals: the tenant's tool calls waiting for a person, with their exact arguments, and recent decisions.
import { useCallback, useEffect, useState } from 'react';
import type { Session } from '../App';
import { ApiError } from '../api';
import type { Approval } from '../types';
import { ApprovalCard } from '../components/ApprovalCard';
import { errorText, ErrorLine, Json, when } from '../components/common';

export function ApprovalsPage({ session }: { session: Session }) {
  const { api } = session;
  const [pending, setPending] = useState<Approval[] | null>(null);
  const [decided, setDecided] = useState<Approval[] | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const [open, done] = await Promise.all([api.approvals('pending'), api.approvals('decided')]);
      setPending(open.approvals);
      setDecided(done.approvals);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setUnavailable(true);
      else setError(errorText(err));
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="approvals">
      <h1>Approvals</h1>
      {unavailable ? (
        <p className="card" data-unavailable>
          Approvals are not available on this server: it has no <code>/v1/approvals</code> route yet.
        </p>
      ) : (
        <>
          <div className="row">
            <button type="button" className="secondary" onClick={() => void load()}>
              Refresh
            </button>
          </div>
          <h2>Pending</h2>
          {pending && pending.length === 0 && <p className="muted">Nothing waits for a decision.</p>}
          {pending?.map((approval) => (
            <ApprovalCard
              key={`${approval.run_id}-${approval.tool_use_id}`}
              api={api}
              call={{
                runId: approval.run_id,
                toolUseId: approval.tool_use_id,
                toolName: approval.tool_name,
                arguments: approval.arguments,
                argumentsSha256: approval.arguments_sha256,
                expiresAt: approval.expires_at,
              }}
              onDecided={() => void load()}
            />
          ))}
          <h2>Decided</h2>
          {decided && decided.length === 0 && <p className="muted">No decisions yet.</p>}
          {decided && decided.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Tool</th>
                  <th scope="col">Arguments</th>
                  <th scope="col">Decision</th>
                  <th scope="col">By</th>
                  <th scope="col">When</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {decided.map((approval) => (
                  <tr key={`${approval.run_id}-${approval.tool_use_id}`}>
                    <td>{approval.tool_name}</td>
                    <td>
                      <Json value={approval.arguments} label={`Arguments of ${approval.tool_name}`} />
                    </td>
                    <td>{approval.status}</td>
                    <td>{approval.decided_by ?? '—'}</td>
                    <td>{when(approval.decided_at)}</td>
                    <td>{approval.reason ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
      <ErrorLine error={error} />
    </div>
  );
}
