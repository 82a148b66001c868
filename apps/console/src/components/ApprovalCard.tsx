// A pending tool call waiting for a person: the exact arguments, an optional reason, Approve and Deny.
import { useState } from 'react';
import { Api } from '../api';
import { errorText, ErrorLine, Json, when } from './common';

export interface PendingCall {
  runId: string;
  toolUseId: string;
  toolName: string;
  arguments: unknown;
  argumentsSha256?: string;
  expiresAt?: string | null;
}

export function ApprovalCard({
  api,
  call,
  onDecided,
}: {
  api: Api;
  call: PendingCall;
  onDecided: () => void;
}) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const reasonId = `reason-${call.toolUseId}`;

  const decide = async (approve: boolean) => {
    setBusy(true);
    setError(null);
    try {
      await api.decide(call.runId, {
        tool_use_id: call.toolUseId,
        approve,
        ...(reason.trim() ? { reason: reason.trim() } : {}),
        ...(call.argumentsSha256 ? { arguments_sha256: call.argumentsSha256 } : {}),
      });
      onDecided();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <article className="approval" aria-label={`Approval for ${call.toolName}`}>
      <h3>
        {call.toolName} <span className="muted">run {call.runId.slice(0, 8)}</span>
      </h3>
      <Json value={call.arguments} label={`Arguments of ${call.toolName}`} />
      {call.expiresAt && <p className="muted">Expires {when(call.expiresAt)} (then it counts as denied).</p>}
      <label htmlFor={reasonId}>Reason (optional)</label>
      <input id={reasonId} value={reason} onChange={(event) => setReason(event.target.value)} />
      <div className="row">
        <button type="button" disabled={busy} onClick={() => decide(true)}>
          Approve
        </button>
        <button type="button" className="danger" disabled={busy} onClick={() => decide(false)}>
          Deny
        </button>
      </div>
      <ErrorLine error={error} />
    </article>
  );
}
