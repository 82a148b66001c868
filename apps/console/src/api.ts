// The REST side of the contract: every call sends the key as a bearer token and turns the error envelope into an ApiError.
import type {
  Agent,
  AgentBody,
  AgentDetail,
  ApiKeyIssued,
  ApiKeyList,
  McpServer,
  McpServerBody,
  Approval,
  ConversationDetail,
  ConversationPage,
  Delivery,
  TaskPage,
  TaskStatus,
  ToolInfo,
  UsageReport,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The contract's `error.message`, or a sentence for what is not an envelope (a network failure, a proxy page). */
async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { type?: string; message?: string } };
    if (body.error?.message)
      return new ApiError(response.status, body.error.type ?? 'error', body.error.message);
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new ApiError(
    response.status,
    'error',
    `The server answered ${response.status} ${response.statusText}.`,
  );
}

export class Api {
  constructor(private readonly key: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, 'network_error', 'The server cannot be reached.');
    }
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  agents = () => this.call<Agent[]>('GET', '/v1/agents');
  agent = (name: string) => this.call<AgentDetail>('GET', `/v1/agents/${encodeURIComponent(name)}`);
  createAgent = (body: AgentBody) => this.call<AgentDetail>('POST', '/v1/agents', body);
  updateAgent = (name: string, body: AgentBody) =>
    this.call<AgentDetail>('PUT', `/v1/agents/${encodeURIComponent(name)}`, body);
  deleteAgent = (name: string) => this.call<void>('DELETE', `/v1/agents/${encodeURIComponent(name)}`);
  tools = () => this.call<ToolInfo[]>('GET', '/v1/tools');
  mcpServers = () => this.call<McpServer[]>('GET', '/v1/mcp-servers');
  createMcpServer = (body: McpServerBody) => this.call<McpServer>('POST', '/v1/mcp-servers', body);
  deleteMcpServer = (id: string) => this.call<void>('DELETE', `/v1/mcp-servers/${encodeURIComponent(id)}`);
  conversations = (page: number, pageSize = 20) =>
    this.call<ConversationPage>('GET', `/v1/conversations?page=${page}&page_size=${pageSize}`);
  conversation = (id: string) => this.call<ConversationDetail>('GET', `/v1/conversations/${id}`);
  createConversation = (agentName: string) =>
    this.call<ConversationDetail>('POST', '/v1/conversations', { agent_name: agentName });
  tasks = (page: number, pageSize = 20) =>
    this.call<TaskPage>('GET', `/v1/tasks?page=${page}&page_size=${pageSize}`);
  task = (id: string) => this.call<TaskStatus>('GET', `/v1/tasks/${id}`);
  createTask = (body: { agent_name: string; instruction: string; webhook_url?: string }) =>
    this.call<{ task_id: string; status: string }>('POST', '/v1/tasks', body);
  cancelTask = (id: string) => this.call<TaskStatus>('POST', `/v1/tasks/${id}/cancel`);
  deliveries = (taskId: string) =>
    this.call<{ deliveries: Delivery[] }>('GET', `/v1/tasks/${taskId}/deliveries`);
  redeliver = (taskId: string) => this.call<unknown>('POST', `/v1/tasks/${taskId}/deliveries/redeliver`);
  approvals = (status: 'pending' | 'decided') =>
    this.call<{ approvals: Approval[] }>('GET', `/v1/approvals?status=${status}`);
  decide = (
    runId: string,
    decision: { tool_use_id: string; approve: boolean; reason?: string; arguments_sha256?: string },
  ) => this.call<unknown>('POST', `/v1/runs/${runId}/approvals`, { decisions: [decision] });
  usage = (groupBy: 'day' | 'agent' | 'conversation', from: string, to: string, tenant?: string) =>
    this.call<UsageReport>(
      'GET',
      `/v1/usage?group_by=${groupBy}&from=${from}&to=${to}${tenant === undefined ? '' : `&tenant=${encodeURIComponent(tenant)}`}`,
    );
  issueKey = (body: { tenant: string; role: 'user' | 'admin'; name: string }) =>
    this.call<ApiKeyIssued>('POST', '/v1/admin/api-keys', body);
  revokeKey = (id: string) => this.call<void>('DELETE', `/v1/admin/api-keys/${encodeURIComponent(id)}`);
  keys = (page: number, includeRevoked: boolean, pageSize = 20) =>
    this.call<ApiKeyList>(
      'GET',
      `/v1/admin/api-keys?page=${page}&page_size=${pageSize}&include_revoked=${includeRevoked}`,
    );

  private admin: Promise<boolean> | undefined;

  /**
   * Whether the key is an admin key: listing keys is admin-only (403 for a user key) and has no side effect. Asked
   * once per signed-in key; a failed answer is asked again next time.
   */
  isAdmin(): Promise<boolean> {
    this.admin ??= this.keys(1, false, 1).then(
      () => true,
      (error: unknown) => {
        if (error instanceof ApiError && error.status === 403) return false;
        this.admin = undefined;
        throw error;
      },
    );
    return this.admin;
  }
}
