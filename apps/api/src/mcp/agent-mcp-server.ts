// This backend as an MCP server: one tool per agent the caller's tenant can use; a call runs one turn as a run.
import { Injectable, Logger } from '@nestjs/common';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  Tool as McpTool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '@lib/auth';
import { AgentRegistry } from '@lib/agents';
import { ConversationStore } from '@lib/conversations';
import { DomainError } from '@lib/core';
import { RunSupervisor } from '@lib/runs';
import { collectTurn } from '../chat/collect-turn';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_MESSAGE_CHARS = 10_000;

const INPUT_SCHEMA = {
  type: 'object',
  properties: {
    message: { type: 'string', minLength: 1, maxLength: MAX_MESSAGE_CHARS, description: 'The user message.' },
    conversation_id: {
      type: 'string',
      format: 'uuid',
      description: 'Continue this conversation (from an earlier answer); omit to start a new one.',
    },
  },
  required: ['message'],
  additionalProperties: false,
} as const;

const OUTPUT_SCHEMA = {
  type: 'object',
  properties: {
    conversation_id: { type: 'string', format: 'uuid' },
    run_id: { type: 'string', format: 'uuid' },
    stop_reason: { type: 'string' },
  },
  required: ['conversation_id', 'run_id'],
} as const;

@Injectable()
export class AgentMcpServer {
  private readonly logger = new Logger('McpEndpoint');

  constructor(
    private readonly agents: AgentRegistry,
    private readonly runs: RunSupervisor,
    private readonly conversations: ConversationStore,
  ) {}

  /** A server for one HTTP request of one caller (stateless transport: nothing outlives the request). */
  forCaller(principal: Principal): Server {
    const server = new Server(
      { name: 'agent-backend', version: '1.0.0' },
      {
        capabilities: { tools: {} },
        instructions:
          'Each tool is an agent of this service. Call it with a message; pass the conversation_id of an earlier ' +
          'answer to continue that conversation.',
      },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: await this.tools(principal) }));
    server.setRequestHandler(CallToolRequestSchema, async (request) =>
      this.call(principal, request.params.name, request.params.arguments ?? {}),
    );
    return server;
  }

  private async tools(principal: Principal): Promise<McpTool[]> {
    return (await this.agents.list(principal.tenantId)).map((agent) => ({
      name: agent.name,
      title: agent.name,
      description: agent.description,
      inputSchema: INPUT_SCHEMA as unknown as McpTool['inputSchema'],
      outputSchema: OUTPUT_SCHEMA as unknown as McpTool['outputSchema'],
    }));
  }

  private async call(
    principal: Principal,
    name: string,
    args: Record<string, unknown>,
  ): Promise<CallToolResult> {
    if (!(await this.tools(principal)).some((tool) => tool.name === name)) {
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool "${name}": it is not an agent you can use.`);
    }
    const problem = invalidInput(args);
    if (problem) return failure(`validation_error: ${problem}`);
    const message = args.message as string;
    const conversationId = args.conversation_id as string | undefined;
    try {
      if (conversationId) {
        const conversation = await this.conversations.get(principal.tenantId, conversationId);
        if (conversation.agentName !== name) {
          return failure(
            `validation_error: conversation ${conversationId} belongs to agent "${conversation.agentName}"; call that tool to continue it.`,
          );
        }
      }
      const run = await this.runs.start({
        tenantId: principal.tenantId,
        apiKeyId: principal.apiKeyId,
        source: 'mcp',
        message,
        conversationId,
        agentName: name,
      });
      const answer = await collectTurn(run);
      return {
        content: [{ type: 'text', text: answer.response }],
        structuredContent: {
          conversation_id: answer.conversation_id,
          run_id: answer.run_id,
          stop_reason: answer.stop_reason,
        },
      };
    } catch (error) {
      if (error instanceof DomainError) return failure(`${error.type}: ${error.message}`);
      this.logger.error(`An MCP call of agent "${name}" failed: ${(error as Error).stack ?? String(error)}`);
      return failure('internal_error: the turn failed; try again.');
    }
  }
}

function failure(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

function invalidInput(args: Record<string, unknown>): string | null {
  for (const key of Object.keys(args)) {
    if (key !== 'message' && key !== 'conversation_id') return `unexpected property "${key}"`;
  }
  const message = args.message;
  if (typeof message !== 'string') return 'message must be a string';
  if (message.length < 1 || message.length > MAX_MESSAGE_CHARS || !/\S/.test(message)) {
    return `message must be 1 to ${MAX_MESSAGE_CHARS} characters, not blank`;
  }
  const id = args.conversation_id;
  if (id !== undefined && (typeof id !== 'string' || !UUID.test(id))) return 'conversation_id must be a UUID';
  return null;
}
