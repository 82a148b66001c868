// A model for the agent loop's unit specs: it answers from a script, one step per request, and keeps what it was
// asked. Only specs import it.
import { LlmClient, LlmError, LlmRequest, LlmResult, LlmStreamEvent, ToolUseBlock } from '@lib/llm';

export type ScriptedStep = {
  text?: string;
  toolUses?: ToolUseBlock[];
  fail?: LlmError;
  /** Aborts this controller after the step's text, as a cancel mid-answer does. */
  cancelAfterText?: AbortController;
};

export class ScriptedModel extends LlmClient {
  readonly kind = 'scripted';
  readonly requests: LlmRequest[] = [];

  constructor(
    private readonly steps: ScriptedStep[],
    /** The cache tokens every answer reports. */
    private readonly cache = { creation: 0, read: 0 },
  ) {
    super();
  }

  modelFor(): string {
    return 'claude-sonnet-4-6';
  }

  async *stream(request: LlmRequest): AsyncIterable<LlmStreamEvent> {
    this.requests.push(structuredClone({ ...request, signal: undefined }));
    const step = this.steps.shift() ?? { text: 'done' };
    if (step.fail) throw step.fail;
    if (request.signal?.aborted) throw new LlmError('aborted', 'aborted');
    if (step.text) yield { type: 'text', text: step.text };
    if (step.cancelAfterText) {
      step.cancelAfterText.abort();
      throw new LlmError('aborted', 'aborted');
    }
    const result: LlmResult = {
      model: 'claude-sonnet-4-6',
      content: [...(step.text ? [{ type: 'text' as const, text: step.text }] : []), ...(step.toolUses ?? [])],
      stop_reason: step.toolUses?.length ? 'tool_use' : 'end_turn',
      usage: {
        input_tokens: 100,
        output_tokens: 10,
        cache_creation_input_tokens: this.cache.creation,
        cache_read_input_tokens: this.cache.read,
      },
      latency_ms: 5,
      time_to_first_token_ms: 1,
    };
    yield { type: 'result', result };
  }
}
