import { Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ValidationError } from '@lib/core';
import { ChatService, IdempotencyStore, requestFingerprint } from '@lib/chat';
import { ApiErrors } from '../http/api-errors';
import { TenantId } from '../http/tenant';
import { ChatRequestDto, ChatResponseDto } from './chat.dto';
import { collectTurn } from './collect-turn';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

@ApiTags('chat')
@Controller('v1/chat')
export class ChatController {
  constructor(
    private readonly chat: ChatService,
    private readonly idempotency: IdempotencyStore,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Run one chat turn',
    description:
      'Runs the agent (model calls and tools) and answers when the turn is stored. Omit `conversation_id` to start a conversation.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'A retried request with the same key (same tenant, within a day) returns the first answer without running the turn again.',
  })
  @ApiOkResponse({ type: ChatResponseDto })
  @ApiErrors(400, 404, 409, 413, 429, 502, 503)
  async chatTurn(
    @Body() body: ChatRequestDto,
    @TenantId() tenantId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<ChatResponseDto> {
    if (idempotencyKey === undefined) return this.run(body, tenantId);
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
      const response = await this.run(body, tenantId);
      await this.idempotency.complete(tenantId, idempotencyKey, response);
      return response;
    } catch (error) {
      await this.idempotency.release(tenantId, idempotencyKey);
      throw error;
    }
  }

  private async run(body: ChatRequestDto, tenantId: string): Promise<ChatResponseDto> {
    const turn = await this.chat.start({
      tenantId,
      message: body.message,
      conversationId: body.conversation_id,
      agentName: body.agent_name,
    });
    return collectTurn(turn);
  }
}
