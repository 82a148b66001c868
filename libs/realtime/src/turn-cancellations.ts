// Cancelling a turn from any instance: a request is published on Redis, the instance running the turn aborts it.
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { RedisService, RedisSubscriber } from '@lib/core';

const CHANNEL = 'agent-backend:turn-cancel';

@Injectable()
export class TurnCancellations implements OnModuleInit {
  private readonly logger = new Logger(TurnCancellations.name);
  /** The turns running in this process, by conversation; at most one each (the conversation lock). */
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly redis: RedisService,
    private readonly subscriber: RedisSubscriber,
  ) {}

  onModuleInit(): void {
    // Not awaited: a Redis that is down must not stop the process from starting (readiness reports it).
    this.subscriber
      .subscribe(CHANNEL, (conversationId) => void this.abortLocal(conversationId))
      .catch((error: Error) => {
        this.logger.warn(`Could not subscribe to turn cancellations: ${error.message}`);
      });
  }

  /** Registers a running turn; the returned function unregisters it. */
  register(conversationId: string, controller: AbortController): () => void {
    this.running.set(conversationId, controller);
    return () => {
      if (this.running.get(conversationId) === controller) this.running.delete(conversationId);
    };
  }

  /** Asks whichever instance runs the conversation's turn to cancel it. */
  async cancel(conversationId: string): Promise<void> {
    if (this.abortLocal(conversationId)) return;
    await this.redis.client.publish(CHANNEL, conversationId);
  }

  /** Aborts every turn of this process (graceful shutdown past its grace period). */
  abortAll(): void {
    for (const controller of this.running.values()) controller.abort();
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Resolves true once no turn runs in this process, or false when `timeoutMs` passed first. */
  async whenIdle(timeoutMs: number, pollMs = 50): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running.size > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))),
      );
    }
    return true;
  }

  private abortLocal(conversationId: string): boolean {
    const controller = this.running.get(conversationId);
    if (!controller) return false;
    controller.abort();
    return true;
  }
}
