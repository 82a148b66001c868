export { ChatModule } from './chat.module';
export { ChatService, toDomainError } from './chat.service';
export type { Turn, TurnRequest } from './chat.service';
export { AgentRunner, AgentTurnError } from './agent-runner';
export type { RunRequest, IterationHook } from './agent-runner';
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
  TextEvent,
  ToolStartEvent,
  ToolEndEvent,
  StopReason,
  TurnUsage,
} from './agent-events';
