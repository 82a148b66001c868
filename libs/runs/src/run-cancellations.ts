// The one cancel channel of every run, whatever started it: a cancel is carried out here when the run is in this
// process, else published on Redis for the instance (API or worker) that runs it.
import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { RedisService, RedisSubscriber } from '@lib/core';
import { RunHandedBackError } from '@lib/chat';

const CHANNEL = 'agent-backend:run-cancel';

/** Which run to stop: a run by its id, or whichever run the conversation has going. */
export type CancelTarget = { runId: string } | { conversationId: string };

interface Running {
  runId: string;
  conversationId: string;
  controller: AbortController;
}

@Injectable()
export class RunCancellations implements OnModuleInit {
  private readonly logger = new Logger(RunCancellations.name);
  private readonly byRun = new Map<string, Running>();
  private readonly byConversation = new Map<string, Running>();

  constructor(
    private readonly redis: RedisService,
    private readonly subscriber: RedisSubscriber,
  ) {}

  onModuleInit(): void {
    // Not awaited: a Redis that is down must not stop the process from starting (readiness reports it).
    this.subscriber
      .subscribe(CHANNEL, (message) => {
        try {
          this.abortLocal(JSON.parse(message) as CancelTarget);
        } catch {
          // Not a cancel request.
        }
      })
      .catch((error: Error) =>
        this.logger.warn(`Could not subscribe to run cancellations: ${error.message}`),
      );
  }

  /** Registers a running run; the returned function unregisters it. */
  register(runId: string, conversationId: string, controller: AbortController): () => void {
    const running: Running = { runId, conversationId, controller };
    this.byRun.set(runId, running);
    this.byConversation.set(conversationId, running);
    return () => {
      if (this.byRun.get(runId) === running) this.byRun.delete(runId);
      if (this.byConversation.get(conversationId) === running) this.byConversation.delete(conversationId);
    };
  }

  /** Stops the run wherever it runs. */
  async cancel(target: CancelTarget): Promise<void> {
    if (this.abortLocal(target)) return;
    await this.redis.client.publish(CHANNEL, JSON.stringify(target));
  }

  /** The run of this process on the conversation, if there is one. */
  runningHere(conversationId: string): string | undefined {
    return this.byConversation.get(conversationId)?.runId;
  }

  /**
   * Hands every run of this process back (graceful shutdown past its grace period): each stops without ending,
   * stays `running` with its journal, and the reconciler of another instance resumes it (see RunRecovery).
   */
  handBackAll(): void {
    for (const running of this.byRun.values()) {
      running.controller.abort(new RunHandedBackError(running.conversationId));
    }
  }

  get runningCount(): number {
    return this.byRun.size;
  }

  /** Resolves true once no run is going in this process, or false when `timeoutMs` passed first. */
  async whenIdle(timeoutMs: number, pollMs = 50): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.byRun.size > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))),
      );
    }
    return true;
  }

  private abortLocal(target: CancelTarget): boolean {
    const running =
      'runId' in target ? this.byRun.get(target.runId) : this.byConversation.get(target.conversationId);
    if (!running) return false;
    running.controller.abort();
    return true;
  }
}
