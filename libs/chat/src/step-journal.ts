// The seams between the agent loop and what a run adds around it: the run's journal of completed steps (replayed
// when the run is executed again) and the gate a tool call passes before it runs. @lib/runs implements the journal
// (RunJournal, PostgreSQL); a gate is whatever the caller passes (the default lets every call run).
import type { LlmCallRecord, RunStepRow } from '@lib/conversations';
import type { ContentBlock, ToolUseBlock } from '@lib/llm';

/** A completed model response: the assistant message as the loop keeps it, and the call that produced it. */
export interface ModelStep {
  kind: 'model';
  content: ContentBlock[];
  /** Carries the `id` its llm_calls row gets, so a replayed call is billed once whatever recorded it first. */
  call: LlmCallRecord;
}

/** A tool call that is not safe to run twice is about to run (recorded before it runs). */
export interface ToolStartedStep {
  kind: 'tool_started';
  tool_use_id: string;
  tool_name: string;
}

/** A completed tool call: what goes back to the model in its `tool_result`. */
export interface ToolStep {
  kind: 'tool';
  tool_use_id: string;
  tool_name: string;
  content: string;
  is_error: boolean;
  duration_ms: number;
}

export type JournalStep = ModelStep | ToolStartedStep | ToolStep;

/**
 * A run's journal as the loop uses it. The loop records each step as it completes, in the order it produced them
 * (a model response before the tools it asked for; tool results as each finishes), and awaits the write before it
 * acts on the step: a model response is stored before its tools run, so an execution that dies after it never asks
 * the model again. When the run is executed again, `recorded` holds what earlier executions stored, and the loop
 * replays it: no provider request, no tool call, no event for a replayed step.
 */
export interface StepJournal {
  readonly runId: string;
  /** The steps earlier executions of the run recorded, in loop order (empty for a run's first execution). */
  readonly recorded: readonly JournalStep[];
  /** Stores a step; resolves once it is durable. */
  record(step: JournalStep): Promise<void>;
  /**
   * Numbers a step as record() would, without writing it: the row goes into the statement that stores the turn
   * (a run's last model response, see RunnerDoneEvent.final_step).
   */
  row(step: JournalStep): RunStepRow;
  /** A new id for a model call's record (see ModelStep.call). */
  newCallId(): string;
}

/**
 * What may happen to a tool call before it runs: `run` (the default), `deny` (the model gets an `is_error`
 * result with the reason, recorded like any result) or `pause` (the call waits; the loop runs the step's other
 * calls, records their results, and ends with `runner_paused`: a later execution of the run asks the gate again).
 */
export type ToolDecision = { action: 'run' } | { action: 'deny'; reason: string } | { action: 'pause' };

/**
 * Consulted for each call of a tool that needs a person's decision (the agent version's `toolsRequiringApproval`
 * and the conversation's `requireApproval`) and has no recorded result, in the order the model asked for them,
 * before any of the step's calls runs. Not consulted for replayed results, nor for a non-idempotent call found
 * interrupted; every other call runs.
 */
export interface ToolGate {
  decide(use: ToolUseBlock, context: ToolGateContext): ToolDecision | Promise<ToolDecision>;
}

/** The turn a gated call belongs to, as the loop knows it. */
export interface ToolGateContext {
  runId?: string;
  tenantId: string;
  conversationId: string;
}

/** A model step of an earlier execution with the tool steps recorded after it. */
export interface ReplayedIteration {
  content: ContentBlock[];
  call: LlmCallRecord;
  results: Map<string, ToolStep>;
  started: Set<string>;
}

/** The recorded steps grouped by iteration (a model response and its tools), in order. */
export function replayPlan(recorded: readonly JournalStep[]): ReplayedIteration[] {
  const iterations: ReplayedIteration[] = [];
  for (const step of recorded) {
    if (step.kind === 'model') {
      iterations.push({ content: step.content, call: step.call, results: new Map(), started: new Set() });
      continue;
    }
    const current = iterations.at(-1);
    // A tool step always follows its model response; one that does not is ignored rather than misplaced.
    if (!current) continue;
    if (step.kind === 'tool') current.results.set(step.tool_use_id, step);
    else current.started.add(step.tool_use_id);
  }
  return iterations;
}
