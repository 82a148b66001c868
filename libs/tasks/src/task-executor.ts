// Runs one attempt of a task through ChatService (the one agent loop, as chat uses it): records progress
// per iteration, honours cancel requests, stores the outcome, and says whether the queue should retry.
import { Injectable, Logger } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { DomainError, IdGenerator, LogContext, NotFoundError } from '@lib/core';
import { ConversationStore } from '@lib/conversations';
import { failureError, RunHandle, RunSupervisor } from '@lib/runs';
import { describeFailure, isTransient, PermanentTaskFailure, TransientTaskFailure } from './task-failures';
import { TaskLifecycle } from './task-lifecycle';
import { TaskOutcome, TaskRepository } from './task-repository';
import { isFinal, Task } from './task-records';

export interface TaskRun {
  taskId: string;
  /** This run's number among the queue's attempts (from 1); re-runs after a crashed worker keep it. */
  attempt: number;
  maxAttempts: number;
}

/** Progress stays below 1 until the task has completed. */
const MAX_RUNNING_PROGRESS = 0.95;

@Injectable()
export class TaskExecutor {
  private readonly logger = new Logger('TaskExecutor');

  constructor(
    private readonly tasks: TaskRepository,
    private readonly lifecycle: TaskLifecycle,
    private readonly runs: RunSupervisor,
    private readonly conversations: ConversationStore,
    private readonly ids: IdGenerator,
  ) {}

  /**
   * Resolves when the task has ended (or had already ended); throws TransientTaskFailure when the queue
   * should run it again after its backoff, PermanentTaskFailure when it has ended `failed`.
   */
  async execute(run: TaskRun): Promise<void> {
    // A cancel of the task stops its run through the runs' one cancel channel; between steps the run also checks
    // the task's cancel_requested_at, so a cancel published while nothing ran is not missed.
    const controller = new AbortController();
    let task: Task | null = null;
    try {
      // The usual case, a queued task with no cancel requested, is read and claimed, and its run's id recorded
      // before the run starts (an attempt that dies at any point leaves it to the next one), by the one UPDATE.
      const claimed = await this.tasks.markRunning(run.taskId, this.ids.uuid());
      const running = claimed?.task ?? null;
      task = running ?? (await this.tasks.findById(run.taskId));
      if (!task) {
        this.logger.warn(`Task ${run.taskId} has no row (deleted?); its job is dropped.`);
        return;
      }
      this.describeRun(task);
      if (!running) {
        // Not claimed: finished already (nothing to do), or a cancel was requested before it ran.
        if (!isFinal(task.status)) await this.lifecycle.finish(task.id, 'cancelled', {});
        return;
      }
      this.logger.log(
        { task_id: task.id, request_id: task.requestId, attempt: running.attempts },
        `Task ${task.id} running (run ${running.attempts}, attempt ${run.attempt} of ${run.maxAttempts})`,
      );
      this.lifecycle.progressed(running);
      await this.runTurn(running, claimed!.previousRunId, controller);
    } catch (error) {
      if (!task) throw error;
      await this.handleFailure(task, run, error, controller.signal);
    }
  }

  /** Every later log line of the run names the tenant and the conversation; so does the run's span. */
  private describeRun(task: Task): void {
    LogContext.assign({
      tenant_id: task.tenantId,
      conversation_id: task.conversationId,
      request_id: task.requestId ?? undefined,
    });
    trace.getActiveSpan()?.setAttributes({
      'tenant.id': task.tenantId,
      'agent.name': task.agentName,
      'conversation.id': task.conversationId,
    });
  }

  /** For a job the queue gave up on without a run failing (its worker died too often): the task ends failed. */
  async abandon(taskId: string, reason: string): Promise<void> {
    await this.lifecycle.finish(taskId, 'failed', { error: reason });
    // Its run is left to the task's attempts (the reconciler does not resume task runs): it ends with the task.
    const task = await this.tasks.findById(taskId);
    if (task?.runId) await this.runs.abandon(task.runId, reason);
  }

  private async runTurn(
    task: Task,
    previousRunId: string | null,
    controller: AbortController,
  ): Promise<void> {
    // A previous run may have stored the turn and died before recording the outcome: never run it twice.
    // (On the first run, `attempts` is 1 and there was no previous run to look for.)
    const stored = task.attempts > 1 ? await this.storedOutcome(task) : null;
    if (stored) {
      await this.lifecycle.finish(task.id, 'completed', stored);
      return;
    }
    // Read by the progress hook, which runs only after start() returned (the first iteration comes later).
    const runRef: { handle?: RunHandle } = {};
    const onIteration = async ({
      iteration,
      maxIterations,
    }: {
      iteration: number;
      maxIterations: number;
    }) => {
      const progress = Math.min(MAX_RUNNING_PROGRESS, Math.round((iteration / maxIterations) * 1e4) / 1e4);
      const recorded = await this.tasks.recordProgress(task.id, progress);
      if (!recorded) return;
      if (recorded.cancelRequested) {
        controller.abort();
        await runRef.handle?.cancel();
      }
      this.lifecycle.progressed({ id: task.id, status: 'running', progress: recorded.progress });
    };
    // Every attempt of the task executes the same run: a later attempt replays what the earlier ones recorded (the
    // model is not asked again, a tool that completed does not run again) and goes on from there. The claim
    // recorded the run's id (markRunning): a new one on the first attempt, the earlier attempts' one after.
    let handle: RunHandle | undefined;
    let runId = task.runId ?? this.ids.uuid();
    if (previousRunId) {
      const resumed = await this.runs.resume(previousRunId, { reopenFailed: true, onIteration });
      if (resumed.kind === 'resumed') handle = resumed.handle;
      else if (resumed.kind === 'finished' && resumed.run.status === 'requires_action') {
        // Its run still waits for a decision (this job came early): the task waits with it, without this slot.
        const waiting = await this.tasks.markRequiresAction(task.id);
        if (waiting) this.lifecycle.progressed(waiting);
        return;
      }
      // Recorded, but the attempt died before the run existed: it starts under that id.
      else if (resumed.kind === 'missing') runId = previousRunId;
      // It cannot go on (it ended otherwise): a run of its own.
      else runId = this.ids.uuid();
    }
    if (!handle) {
      if (runId !== task.runId) await this.tasks.recordRun(task.id, runId);
      handle = await this.runs.start({
        tenantId: task.tenantId,
        message: task.instruction,
        agentName: task.agentName,
        agentPin: task.agentPin ?? undefined,
        newConversationId: task.conversationId,
        taskId: task.id,
        source: 'task',
        onIteration,
        runId,
      });
    }
    runRef.handle = handle;
    let result = '';
    for await (const event of handle.events) {
      if (event.name === 'text') result += event.payload.content;
      else if (event.name === 'error') throw handle.failure ?? failureError(event.payload);
      else if (event.name === 'done' && event.payload.stop_reason === 'requires_approval') {
        // The run waits for a person: the task waits with it, and this job ends so that its worker slot is free.
        // The decision queues the task again (TaskResumptions); no webhook until the task ends.
        const waiting = await this.tasks.markRequiresAction(task.id);
        if (waiting) this.lifecycle.progressed(waiting);
        return;
      } else if (event.name === 'done') {
        const outcome: TaskOutcome = {
          // A resumed run's events carry only what it produced: its answer includes the replayed responses too.
          result: handle.response ?? result,
          usage: {
            inputTokens: event.payload.input_tokens,
            outputTokens: event.payload.output_tokens,
            costUsd: event.payload.cost_usd,
          },
        };
        await this.lifecycle.finish(
          task.id,
          event.payload.stop_reason === 'cancelled' ? 'cancelled' : 'completed',
          outcome,
          task,
        );
        return;
      }
    }
    throw new Error('The run ended without a done event.');
  }

  /** The outcome of a turn already stored in the task's conversation, if a crashed run got that far. */
  private async storedOutcome(task: Task): Promise<TaskOutcome | null> {
    let conversation;
    try {
      conversation = await this.conversations.get(task.tenantId, task.conversationId);
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw error;
    }
    // The conversation exists from the start of its first turn; only stored messages mean the turn was stored.
    if (conversation.messageCount === 0) return null;
    const messages = await this.conversations.messages(task.tenantId, conversation.id);
    const result = messages
      .filter((m) => m.role === 'assistant')
      .map((m) =>
        typeof m.content === 'string'
          ? m.content
          : m.content.map((b) => (b.type === 'text' ? b.text : '')).join(''),
      )
      .join('');
    return {
      result,
      usage: {
        inputTokens: conversation.inputTokens,
        outputTokens: conversation.outputTokens,
        costUsd: conversation.costUsd,
      },
    };
  }

  private async handleFailure(task: Task, run: TaskRun, error: unknown, signal: AbortSignal): Promise<never> {
    if (signal.aborted) {
      // A cancel that surfaced as an error (e.g. while the turn was being stored) is still a cancel.
      await this.lifecycle.finish(task.id, 'cancelled', {});
      throw new PermanentTaskFailure('The task was cancelled.');
    }
    const message = describeFailure(error);
    const transient = isTransient(error);
    if (!transient && !(error instanceof DomainError)) {
      this.logger.error({ err: error, task_id: task.id }, `Task ${task.id} failed unexpectedly`);
    }
    if (transient && run.attempt < run.maxAttempts) {
      const retrying = await this.tasks.markRetrying(
        task.id,
        `${message} Attempt ${run.attempt} of ${run.maxAttempts} failed; it will be retried.`,
      );
      if (retrying) this.lifecycle.progressed(retrying);
      throw new TransientTaskFailure(message);
    }
    const final = transient ? `${message} (gave up after ${run.attempt} attempts)` : message;
    await this.lifecycle.finish(task.id, 'failed', { error: final });
    throw new PermanentTaskFailure(final);
  }
}
