// The plain records of approvals, and their wire forms (RunStatus.pending_approvals, the inbox).
export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired';

export interface Approval {
  runId: string;
  toolUseId: string;
  tenantId: string;
  conversationId: string;
  toolName: string;
  arguments: Record<string, unknown>;
  argumentsSha256: string;
  status: ApprovalState;
  /** The API key that decided; null while pending, when expired, or when decided by a key since deleted. */
  decidedBy: string | null;
  decidedAt: Date | null;
  reason: string | null;
  expiresAt: Date;
  createdAt: Date;
}

/** One decision of `POST /v1/runs/{id}/approvals` (or a socket `approve`). */
export interface Decision {
  toolUseId: string;
  approve: boolean;
  reason?: string;
  /** When given, must be the hash of the waiting call's arguments (the client saw exactly those). */
  argumentsSha256?: string;
}

/** A waiting call as `RunStatus.pending_approvals` and `ChatResponse.pending_approvals` show it. */
export interface PendingApprovalView {
  tool_use_id: string;
  tool_name: string;
  arguments: Record<string, unknown>;
  arguments_sha256: string;
  expires_at: string;
}

/** An approval as the inbox (`GET /v1/approvals`) shows it. */
export interface ApprovalView extends PendingApprovalView {
  run_id: string;
  conversation_id: string;
  status: ApprovalState;
  decided_by: string | null;
  decided_at: string | null;
  reason: string | null;
  created_at: string;
}

export function toPendingView(approval: Approval): PendingApprovalView {
  return {
    tool_use_id: approval.toolUseId,
    tool_name: approval.toolName,
    arguments: approval.arguments,
    arguments_sha256: approval.argumentsSha256,
    expires_at: approval.expiresAt.toISOString(),
  };
}

export function toApprovalView(approval: Approval): ApprovalView {
  return {
    run_id: approval.runId,
    conversation_id: approval.conversationId,
    ...toPendingView(approval),
    status: approval.status,
    decided_by: approval.decidedBy,
    decided_at: approval.decidedAt?.toISOString() ?? null,
    reason: approval.reason,
    created_at: approval.createdAt.toISOString(),
  };
}

/** What a denied or expired call's `tool_result` says to the model (with `is_error: true`). */
export function refusalText(approval: Approval): string {
  if (approval.status === 'expired') {
    return `This tool call was not run: nobody approved it in time (${approval.reason ?? 'it expired'}).`;
  }
  return `This tool call was not run: a person denied it${approval.reason ? `: ${approval.reason}` : '.'}`;
}
