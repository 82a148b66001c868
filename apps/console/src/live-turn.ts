// What a conversation's stream events build: the turn in progress, deduplicated by `seq` when the server sends it.
// Pure functions, so the resume rules are unit-tested without a browser (live-turn.spec.ts).

export interface ToolCall {
  toolUseId: string;
  name: string;
  arguments: unknown;
  result?: string;
  durationMs?: number;
  isError?: boolean;
  /** true between tool_start and tool_end. */
  running: boolean;
}

export interface PendingApproval {
  runId: string;
  toolUseId: string;
  toolName: string;
  arguments: unknown;
  argumentsSha256?: string;
  expiresAt?: string;
}

export type TurnPart = { kind: 'text'; text: string } | { kind: 'tool'; call: ToolCall };

export interface LiveTurn {
  runId: string | null;
  parts: TurnPart[];
  approvals: PendingApproval[];
  /** The run paused for decisions (`done` with `stop_reason: "requires_approval"`) and has not gone on yet. */
  waiting?: boolean;
}

export interface TurnStats {
  messageId: string | null;
  stopReason: string;
  inputTokens: number;
  outputTokens: number;
  tokensUsed: number;
  cacheReadInputTokens?: number;
  costUsd: number;
  latencyMs: number;
}

export interface StreamState {
  /** The highest `seq` applied; null while the server sends none (version 1: live events only). */
  lastSeq: number | null;
  live: LiveTurn | null;
}

export type TurnEnd =
  | { kind: 'done'; turn: LiveTurn | null; stats: TurnStats }
  | { kind: 'error'; turn: LiveTurn | null; type: string; message: string };

export interface Applied {
  state: StreamState;
  /** Set when this event ended the turn (done or error). */
  ended?: TurnEnd;
  /** false when the event was a duplicate (its seq already applied) and changed nothing. */
  applied: boolean;
}

export const STREAM_EVENTS = [
  'run_started',
  'text',
  'tool_start',
  'tool_end',
  'approval_required',
  'done',
  'error',
] as const;
export type StreamEventName = (typeof STREAM_EVENTS)[number];

type Payload = Record<string, unknown>;

export const emptyStream = (): StreamState => ({ lastSeq: null, live: null });

const newTurn = (runId: string | null): LiveTurn => ({ runId, parts: [], approvals: [] });

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** The turn this event belongs to: the live one, or a new one when a run starts or the run id changes. */
function turnFor(live: LiveTurn | null, payload: Payload): LiveTurn {
  const runId = str(payload.run_id) ?? null;
  if (live && (runId === null || live.runId === null || live.runId === runId)) {
    // Any event of the run after a pause means it goes on.
    const { waiting: _waiting, ...going } = live;
    return { ...going, runId: live.runId ?? runId };
  }
  return newTurn(runId);
}

function withTool(turn: LiveTurn, toolUseId: string, update: (call: ToolCall) => ToolCall): LiveTurn {
  return {
    ...turn,
    parts: turn.parts.map((part) =>
      part.kind === 'tool' && part.call.toolUseId === toolUseId
        ? { kind: 'tool', call: update(part.call) }
        : part,
    ),
  };
}

export function applyEvent(state: StreamState, name: StreamEventName, payload: Payload): Applied {
  const seq = typeof payload.seq === 'number' ? payload.seq : null;
  if (seq !== null && state.lastSeq !== null && seq <= state.lastSeq) return { state, applied: false };
  const lastSeq = seq ?? state.lastSeq;

  switch (name) {
    case 'run_started':
      return { state: { lastSeq, live: newTurn(str(payload.run_id) ?? null) }, applied: true };
    case 'text': {
      const turn = turnFor(state.live, payload);
      const content = str(payload.content) ?? '';
      const last = turn.parts[turn.parts.length - 1];
      const parts: TurnPart[] =
        last?.kind === 'text'
          ? [...turn.parts.slice(0, -1), { kind: 'text', text: last.text + content }]
          : [...turn.parts, { kind: 'text', text: content }];
      return { state: { lastSeq, live: { ...turn, parts } }, applied: true };
    }
    case 'tool_start': {
      const turn = turnFor(state.live, payload);
      const call: ToolCall = {
        toolUseId: str(payload.tool_use_id) ?? `tool-${turn.parts.length}`,
        name: str(payload.tool_name) ?? 'tool',
        arguments: payload.arguments,
        running: true,
      };
      return {
        state: { lastSeq, live: { ...turn, parts: [...turn.parts, { kind: 'tool', call }] } },
        applied: true,
      };
    }
    case 'tool_end': {
      let turn = turnFor(state.live, payload);
      const toolUseId = str(payload.tool_use_id) ?? '';
      if (!turn.parts.some((p) => p.kind === 'tool' && p.call.toolUseId === toolUseId)) {
        // Joined after its tool_start: the card still shows what ended.
        turn = {
          ...turn,
          parts: [
            ...turn.parts,
            {
              kind: 'tool',
              call: {
                toolUseId,
                name: str(payload.tool_name) ?? 'tool',
                arguments: undefined,
                running: true,
              },
            },
          ],
        };
      }
      turn = withTool(turn, toolUseId, (call) => ({
        ...call,
        running: false,
        result: str(payload.result_summary),
        durationMs: num(payload.duration_ms),
        isError: payload.is_error === true,
      }));
      turn = { ...turn, approvals: turn.approvals.filter((a) => a.toolUseId !== toolUseId) };
      return { state: { lastSeq, live: turn }, applied: true };
    }
    case 'approval_required': {
      const turn = turnFor(state.live, payload);
      const approval: PendingApproval = {
        runId: str(payload.run_id) ?? turn.runId ?? '',
        toolUseId: str(payload.tool_use_id) ?? '',
        toolName: str(payload.tool_name) ?? 'tool',
        arguments: payload.arguments,
        argumentsSha256: str(payload.arguments_sha256),
        expiresAt: str(payload.expires_at),
      };
      return {
        state: {
          lastSeq,
          live: {
            ...turn,
            approvals: [...turn.approvals.filter((a) => a.toolUseId !== approval.toolUseId), approval],
          },
        },
        applied: true,
      };
    }
    case 'done': {
      if (payload.stop_reason === 'requires_approval' && state.live) {
        // The run waits for decisions on its tool calls: the turn goes on (same run) once they are made.
        return {
          state: { lastSeq, live: { ...turnFor(state.live, payload), waiting: true } },
          applied: true,
        };
      }
      const stats: TurnStats = {
        messageId: str(payload.message_id) ?? null,
        stopReason: str(payload.stop_reason) ?? 'end_turn',
        inputTokens: num(payload.input_tokens),
        outputTokens: num(payload.output_tokens),
        tokensUsed: num(payload.tokens_used),
        cacheReadInputTokens:
          typeof payload.cache_read_input_tokens === 'number' ? payload.cache_read_input_tokens : undefined,
        costUsd: num(payload.cost_usd),
        latencyMs: num(payload.latency_ms),
      };
      return {
        state: { lastSeq, live: null },
        ended: { kind: 'done', turn: state.live, stats },
        applied: true,
      };
    }
    case 'error':
      return {
        state: { lastSeq, live: null },
        ended: {
          kind: 'error',
          turn: state.live,
          type: str(payload.type) ?? 'error',
          message: str(payload.message) ?? 'The turn failed.',
        },
        applied: true,
      };
  }
}

/** The snapshot kept in sessionStorage, so a reload shows the turn so far and re-joins after its last seq. */
export function parseStream(raw: string | null): StreamState {
  if (!raw) return emptyStream();
  try {
    const value = JSON.parse(raw) as StreamState;
    return {
      lastSeq: typeof value.lastSeq === 'number' ? value.lastSeq : null,
      live:
        value.live && Array.isArray(value.live.parts)
          ? { ...value.live, approvals: value.live.approvals ?? [] }
          : null,
    };
  } catch {
    return emptyStream();
  }
}
