import { Body, Controller, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '@lib/core';
import { IdempotencyStore, requestFingerprint } from '@lib/chat';
import { RunSupervisor } from '@lib/runs';
import { ApiErrors } from '../http/api-errors';
import { CurrentPrincipal, TenantId } from '@lib/auth';
import type { Principal } from '@lib/auth';
import type { RunSource } from '@lib/core';
import type { RunRequest } from '@lib/runs';
import { ChatRequestDto, ChatResponseDto, toRunRequest } from './chat.dto';
import { collectTurn } from './collect-turn';
import { SseStreams } from './sse-stream';

const STREAM_DESCRIPTION = [
  "Runs one turn and streams it as Server-Sent Events: `id:` the event's sequence number in the conversation,",
  '`event:` naming the type and `data:` a JSON payload that always carries `conversation_id`, `run_id` and `seq`:',
  'first `run_started` `{source}`, then `text` `{content}` deltas as the model produces them,',
  '`tool_start` `{tool_name, tool_use_id, arguments}`, `tool_end` `{tool_name, tool_use_id, duration_ms, is_error,',
  "result_summary}`, `thinking` `{content}` (the model's reasoning, only with `include_thinking: true`), then exactly one of `done` `{message_id, stop_reason, input_tokens, output_tokens, tokens_used,",
  'cost_usd, latency_ms}` or `error` `{type, message}`. A comment line is sent every 15 s as a heartbeat.',
  'A client that disconnects does not stop the run (unless `on_disconnect` is `cancel`): resume with',
  'GET /v1/conversations/{id}/events and `Last-Event-ID`.',
  'Errors found before the turn starts (400, 404, 409) answer with the JSON error envelope instead.',
].join(' ');

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

@ApiTags('chat')
@Controller('v1/chat')
export class ChatController {
  constructor(
    private readonly runs: RunSupervisor,
    private readonly idempotency: IdempotencyStore,
    private readonly sse: SseStreams,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run one chat turn',
    description:
      'Runs the agent (model calls and tools) and answers when the turn is stored. Omit `conversation_id` to start a conversation.',
  })
  // Named exactly as in @Headers below: the document then lists the header once, optional.
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'A retried request with the same key (same tenant, within a day) returns the first answer without running the turn again.',
  })
  @ApiOkResponse({ type: ChatResponseDto })
  @ApiErrors(400, 402, 404, 409, 413, 429, 502, 503)
  async chatTurn(
    @Body() body: ChatRequestDto,
    @TenantId() tenantId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
    @Headers('Idempotency-Key') idempotencyKey?: string,
  ): Promise<ChatResponseDto> {
    if (idempotencyKey === undefined) return this.run(body, tenantId, principal.apiKeyId);
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new ValidationError('The Idempotency-Key header is invalid.', [
        { field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
    const claim = await this.idempotency.claim(tenantId, idempotencyKey, requestFingerprint(body));
    if (claim.kind === 'replay') {
      reply.header('Idempotent-Replayed', 'true');
      return claim.response as ChatResponseDto;
    }
    try {
      const response = await this.run(body, tenantId, principal.apiKeyId);
      await this.idempotency.complete(tenantId, idempotencyKey, response);
      return response;
    } catch (error) {
      await this.idempotency.release(tenantId, idempotencyKey);
      throw error;
    }
  }

  @Post('stream')
  @ApiOperation({
    summary: 'Run one chat turn, streamed as Server-Sent Events',
    description: STREAM_DESCRIPTION,
  })
  // The stream's media type is on its 200 answer only: the errors before the stream are JSON envelopes.
  @ApiOkResponse({
    description: 'The event stream.',
    content: {
      'text/event-stream': {
        schema: { type: 'string' },
        example:
          'event: text\ndata: {"conversation_id":"…","content":"Hello"}\n\nevent: done\ndata: {"conversation_id":"…","message_id":"…","stop_reason":"end_turn","input_tokens":10,"output_tokens":2,"tokens_used":12,"cost_usd":0.00006,"latency_ms":420}\n\n',
      },
    },
  })
  @ApiErrors(400, 402, 404, 409, 413, 429, 503)
  async stream(
    @Body() body: ChatRequestDto,
    @TenantId() tenantId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    const startedAt = performance.now();
    // Listening from the start: a client that leaves while the run is being started is noticed too.
    let gone = false;
    reply.raw.once('close', () => (gone = !reply.raw.writableFinished));
    const run = await this.runs.start(this.runRequest(body, tenantId, principal.apiKeyId, 'sse'));
    const leave = () => {
      if (body.on_disconnect === 'cancel') void run.cancel();
      else run.detach();
    };
    if (gone) return leave();
    // From here on the stream is written directly.
    reply.hijack();
    reply.raw.once('close', () => {
      if (gone) leave();
    });
    this.sse.begin(reply.raw, reply.getHeaders(), String(request.id), startedAt);
    await this.sse.pipeRun(run, reply.raw, body.include_thinking === true);
  }

  private async run(
    body: ChatRequestDto,
    tenantId: string,
    apiKeyId: string | null,
  ): Promise<ChatResponseDto> {
    return collectTurn(await this.runs.start(this.runRequest(body, tenantId, apiKeyId, 'rest')));
  }

  /** The one mapping from the chat DTO to a run request (the gateway's socket messages use it too). */
  private runRequest(
    body: ChatRequestDto,
    tenantId: string,
    apiKeyId: string | null,
    source: RunSource,
  ): RunRequest {
    return toRunRequest(body, { tenantId, apiKeyId, source });
  }
}
