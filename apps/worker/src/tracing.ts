// Imported first by main.ts: OpenTelemetry must patch http, pg and ioredis before anything loads them. The path is
// relative on purpose: @lib/core's index would load those modules before the SDK starts.
import { startTracing } from '../../../libs/core/src/telemetry/start-tracing';

export const tracing = startTracing('agent-backend-worker');
