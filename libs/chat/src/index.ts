export { ChatModule } from './chat.module';
export { ChatService, RunHandedBackError, toDomainError, TurnRun } from './chat.service';
export type { Turn, TurnRequest } from './chat.service';
export { AgentRunner, AgentTurnError } from './agent-runner';
export type { RunRequest, IterationHook } from './agent-runner';
export { INTERRUPTED_RESULT } from './agent-runner';
export { replayPlan } from './step-journal';
export type {
  JournalStep,
  ModelStep,
  StepJournal,
  ToolDecision,
  ToolGate,
  ToolStartedStep,
  ToolStep,
} from './step-journal';
export { IdempotencyStore, requestFingerprint } from './idempotency-store';
export type { IdempotencyClaim } from './idempotency-store';
export { summarize } from './summarize';
export { ContextWindow, SUMMARISER_SYSTEM } from './context-window';
export type {
  AgentEvent,
  TurnEvent,
  RunnerEvent,
  DoneEvent,
  RunnerDoneEvent,
  RunnerPausedEvent,
  PausedEvent,
  TextEvent,
  ToolStartEvent,
  ToolEndEvent,
  StopReason,
  TurnUsage,
} from './agent-events';
