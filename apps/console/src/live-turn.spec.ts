import { applyEvent, emptyStream, parseStream, StreamEventName, StreamState } from './live-turn';

type Event = [StreamEventName, Record<string, unknown>];

const C = 'c0ffee00-0000-4000-8000-000000000001';

function play(events: Event[], from: StreamState = emptyStream()) {
  let state = from;
  const ended = [];
  for (const [name, payload] of events) {
    const result = applyEvent(state, name, payload);
    state = result.state;
    if (result.ended) ended.push(result.ended);
  }
  return { state, ended };
}

const textOf = (state: StreamState) =>
  state.live?.parts.map((part) => (part.kind === 'text' ? part.text : `[${part.call.name}]`)).join('');

describe('the live turn built from stream events', () => {
  const run: Event[] = [
    ['run_started', { conversation_id: C, run_id: 'r1', source: 'socket', seq: 1 }],
    ['text', { conversation_id: C, run_id: 'r1', seq: 2, content: 'Let me ' }],
    ['text', { conversation_id: C, run_id: 'r1', seq: 3, content: 'look.' }],
    [
      'tool_start',
      {
        conversation_id: C,
        run_id: 'r1',
        seq: 4,
        tool_name: 'lookup_order',
        tool_use_id: 't1',
        arguments: { order_number: '1001' },
      },
    ],
    [
      'tool_end',
      {
        conversation_id: C,
        run_id: 'r1',
        seq: 5,
        tool_name: 'lookup_order',
        tool_use_id: 't1',
        duration_ms: 12,
        is_error: false,
        result_summary: '{"status":"shipped"}',
      },
    ],
    ['text', { conversation_id: C, run_id: 'r1', seq: 6, content: 'Shipped.' }],
  ];
  const done: Event = [
    'done',
    {
      conversation_id: C,
      run_id: 'r1',
      seq: 7,
      message_id: 'm1',
      stop_reason: 'end_turn',
      input_tokens: 100,
      output_tokens: 20,
      tokens_used: 120,
      cost_usd: 0.001,
      latency_ms: 900,
      cache_read_input_tokens: 40,
    },
  ];

  it('joins deltas into text and a tool_start/tool_end pair into one finished card', () => {
    const { state } = play(run);
    expect(textOf(state)).toBe('Let me look.[lookup_order]Shipped.');
    expect(state.live?.parts[1]).toEqual({
      kind: 'tool',
      call: {
        toolUseId: 't1',
        name: 'lookup_order',
        arguments: { order_number: '1001' },
        result: '{"status":"shipped"}',
        durationMs: 12,
        isError: false,
        running: false,
      },
    });
    expect(state.lastSeq).toBe(6);
  });

  it('ends the turn once with its tokens and cost on done', () => {
    const { state, ended } = play([...run, done]);
    expect(state.live).toBeNull();
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({
      kind: 'done',
      stats: {
        messageId: 'm1',
        inputTokens: 100,
        outputTokens: 20,
        costUsd: 0.001,
        cacheReadInputTokens: 40,
      },
    });
  });

  it('ignores a replayed event whose seq was already applied, so a resumed turn shows nothing twice', () => {
    const beforeReload = play(run.slice(0, 3)).state;
    // After a reload: the snapshot from session storage, then the server replays from after_seq, overlapping.
    const resumed = play([...run.slice(1), done, done], parseStream(JSON.stringify(beforeReload)));
    expect(resumed.ended).toHaveLength(1);
    expect(resumed.ended[0].turn && resumed.ended[0].turn.parts[0]).toEqual({
      kind: 'text',
      text: 'Let me look.',
    });
  });

  it('applies every event of a server that sends no seq (live events only)', () => {
    const withoutSeq = run
      .slice(1)
      .map(([name, { seq: _seq, run_id: _run, ...payload }]) => [name, payload] as Event);
    const { state } = play(withoutSeq);
    expect(textOf(state)).toBe('Let me look.[lookup_order]Shipped.');
    expect(state.lastSeq).toBeNull();
  });

  it('starts a new turn when the next run starts (an enqueued message)', () => {
    const { state } = play([
      ...run,
      done,
      ['run_started', { conversation_id: C, run_id: 'r2', seq: 8 }],
      ['text', { conversation_id: C, run_id: 'r2', seq: 9, content: 'Next.' }],
    ]);
    expect(state.live?.runId).toBe('r2');
    expect(textOf(state)).toBe('Next.');
  });

  it('ends the turn with the error event’s message', () => {
    const { ended } = play([
      ...run.slice(0, 2),
      [
        'error',
        {
          conversation_id: C,
          run_id: 'r1',
          seq: 3,
          type: 'upstream_error',
          message: 'The model provider failed.',
        },
      ],
    ]);
    expect(ended[0]).toMatchObject({
      kind: 'error',
      type: 'upstream_error',
      message: 'The model provider failed.',
    });
  });

  it('keeps a pending approval until its tool ends', () => {
    const approval: Event = [
      'approval_required',
      {
        conversation_id: C,
        run_id: 'r1',
        seq: 4,
        tool_use_id: 't1',
        tool_name: 'lookup_order',
        arguments: { order_number: '1001' },
        arguments_sha256: 'abc',
        expires_at: '2026-12-06T00:00:00Z',
      },
    ];
    const waiting = play([...run.slice(0, 3), approval]).state;
    expect(waiting.live?.approvals).toEqual([
      expect.objectContaining({ runId: 'r1', toolUseId: 't1', argumentsSha256: 'abc' }),
    ]);
    const decided = play([run[4]], waiting).state;
    expect(decided.live?.approvals).toEqual([]);
  });

  it('keeps a turn paused for approval live, and goes on with it when its run continues', () => {
    const approval: Event = [
      'approval_required',
      {
        conversation_id: C,
        run_id: 'r1',
        seq: 4,
        tool_use_id: 't1',
        tool_name: 'lookup_order',
        arguments: { order_number: '1001' },
        arguments_sha256: 'abc',
        expires_at: '2026-12-06T00:00:00Z',
      },
    ];
    const paused: Event = [
      'done',
      { ...run[run.length - 1][1], seq: 5, message_id: null, stop_reason: 'requires_approval' },
    ];
    const outcome = play([...run.slice(0, 3), approval, paused]);
    expect(outcome.ended).toEqual([]);
    expect(outcome.state.live).toMatchObject({
      runId: 'r1',
      waiting: true,
      approvals: [{ toolUseId: 't1' }],
    });
    const resumed = play(
      [
        [
          'tool_start',
          { conversation_id: C, run_id: 'r1', seq: 6, tool_name: 'lookup_order', tool_use_id: 't1' },
        ],
        [
          'tool_end',
          { conversation_id: C, run_id: 'r1', seq: 7, tool_name: 'lookup_order', tool_use_id: 't1' },
        ],
      ],
      outcome.state,
    ).state;
    expect(resumed.live?.waiting).toBeUndefined();
    expect(resumed.live?.approvals).toEqual([]);
  });

  it('reads a damaged snapshot as an empty stream', () => {
    expect(parseStream('{not json')).toEqual(emptyStream());
    expect(parseStream(null)).toEqual(emptyStream());
  });
});
