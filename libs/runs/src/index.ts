export { RunsModule } from './runs.module';
export { RunSupervisor } from './run-supervisor';
export { RunFeed, offer } from './run-feed';
export type { RunFollower, Following } from './run-feed';
export { RunCancellations } from './run-cancellations';
export type { RunHandle } from './run-executor';
export { failureError } from './run-failures';
export { toRunStatus, isFinished } from './run-records';
export type { Run, RunRequest, RunStatus } from './run-records';
