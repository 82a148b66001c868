// A chat turn around the agent loop: resolve the conversation, hold its lock, run, store the turn in one go.
import { Injectable, Logger } from '@nestjs/common';
import { DomainError, IdGenerator, RateLimitedError, UpstreamError } from '@lib/core';
import { AgentDefinition, AgentRegistry, DEFAULT_AGENT } from '@lib/agents';
import { ConversationLease, ConversationLock, ConversationStore } from '@lib/conversations';
import { LlmError } from '@lib/llm';
import type { TurnEvent } from './agent-events';
import { AgentRunner, AgentTurnError } from './agent-runner';

export interface TurnRequest {
  tenantId: string;
  message: string;
  conversationId?: string;
  agentName?: string;
  /** Aborting it cancels the turn: the turn still ends with `done` and `stop_reason: "cancelled"`. */
  signal?: AbortSignal;
}

/** A turn that has its conversation and its lock; `events` must be consumed to run (and release) it. */
export interface Turn {
  conversationId: string;
  agentName: string;
  isNewConversation: boolean;
  events: AsyncGenerator<TurnEvent>;
}

@Injectable()
export class ChatService {
  private readonly logger = new Logger(ChatService.name);

  constructor(
    private readonly agents: AgentRegistry,
    private readonly store: ConversationStore,
    private readonly lock: ConversationLock,
    private readonly runner: AgentRunner,
    private readonly ids: IdGenerator,
  ) {}

  /**
   * Resolves the conversation and takes its lock, so that 404, 400 and 409 are raised before any
   * event is produced; the returned turn runs as its events are consumed.
   */
  async start(request: TurnRequest): Promise<Turn> {
    if (request.conversationId) {
      const conversation = await this.store.get(request.tenantId, request.conversationId);
      const agent = this.agents.get(conversation.agentName);
      const lease = await this.lock.acquire(conversation.id);
      return {
        conversationId: conversation.id,
        agentName: agent.name,
        isNewConversation: false,
        events: this.run(request, agent, conversation.id, lease, false, {
          temperature: conversation.temperature,
          maxIterations: conversation.maxIterations,
        }),
      };
    }
    const agent = this.agents.resolve(request.agentName ?? DEFAULT_AGENT);
    const conversationId = this.ids.uuid();
    // Nobody else knows this id yet; the lock still marks the turn as running for `join` and busy checks.
    const lease = await this.lock.acquire(conversationId);
    return {
      conversationId,
      agentName: agent.name,
      isNewConversation: true,
      events: this.run(request, agent, conversationId, lease, true, {}),
    };
  }

  private async *run(
    request: TurnRequest,
    agent: AgentDefinition,
    conversationId: string,
    lease: ConversationLease,
    isNew: boolean,
    overrides: { temperature?: number | null; maxIterations?: number | null },
  ): AsyncGenerator<TurnEvent> {
    const startedAt = performance.now();
    try {
      const history = isNew ? [] : await this.store.history(conversationId);
      const events = this.runner.run({
        agent,
        history,
        userMessage: request.message,
        tenantId: request.tenantId,
        conversationId,
        signal: request.signal ?? new AbortController().signal,
        ...overrides,
      });
      for await (const event of events) {
        if (event.type !== 'runner_done') {
          yield event;
          continue;
        }
        const appended = await this.store.appendTurn({
          tenantId: request.tenantId,
          conversationId,
          agentName: agent.name,
          create: isNew ? { id: conversationId, agentName: agent.name } : undefined,
          messages: event.messages,
          llmCalls: event.llm_calls,
        });
        const answerIndex = event.messages.map((m) => m.role).lastIndexOf('assistant');
        yield {
          type: 'done',
          message_id: answerIndex >= 0 ? appended.messageIds[answerIndex] : null,
          stop_reason: event.stop_reason,
          response: event.response,
          ...event.usage,
          latency_ms: Math.round(performance.now() - startedAt),
        };
      }
    } catch (error) {
      if (error instanceof AgentTurnError) {
        await this.store
          .recordOrphanCalls(request.tenantId, isNew ? null : conversationId, agent.name, error.llmCalls)
          .catch((e: Error) =>
            this.logger.error(`Could not record the model calls of a failed turn: ${e.message}`),
          );
        throw toDomainError(error.cause);
      }
      throw error;
    } finally {
      await lease.release();
    }
  }
}

/** What a provider failure means to the caller of a turn. */
export function toDomainError(error: unknown): DomainError | unknown {
  if (!(error instanceof LlmError)) return error;
  const mapped = describeLlmError(error);
  // Kept for the logs: the client sees the mapped sentence, operators the provider's own words.
  mapped.cause = error;
  return mapped;
}

function describeLlmError(error: LlmError): DomainError {
  switch (error.kind) {
    case 'rate_limited':
      return new RateLimitedError(
        'The model provider is rate limiting this deployment; retry later.',
        error.retryAfterSeconds ?? 5,
      );
    case 'overloaded':
      return new UpstreamError(
        'The model provider is overloaded; retry in a moment.',
        error.retryAfterSeconds,
      );
    case 'server_error':
    case 'connection':
      return new UpstreamError('The model provider failed to answer; retry in a moment.');
    case 'authentication':
      return new UpstreamError("The model provider refused this deployment's credentials.");
    case 'billing':
      return new UpstreamError('The model provider refused the request for billing reasons.');
    case 'invalid_request':
      return new UpstreamError('The model provider rejected the request.');
    case 'aborted':
      return new UpstreamError('The model call was aborted.');
  }
}
