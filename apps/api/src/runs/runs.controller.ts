// Runs over REST: read one, list a conversation's, cancel one, and follow a conversation's events over SSE.
import { Controller, Get, Headers, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RunEvent, ValidationError } from '@lib/core';
import { ConversationStore } from '@lib/conversations';
import { RunFeed, RunSupervisor, toRunStatus } from '@lib/runs';
import { TenantId } from '@lib/auth';
import { ApiErrors, ApiKeyAuth } from '../http/api-errors';
import { uuidParam } from '../http/uuid-param';
import { PageQueryDto } from '../conversations/conversation.dto';
import { sseFrame, SseStreams } from '../chat/sse-stream';
import { EventsQueryDto, RunListDto, RunStatusDto } from './run.dto';

const LAST_EVENT_ID = /^\d{1,15}$/;
/** How much a follower may leave unread before its stream is closed. */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

@ApiTags('runs')
@ApiKeyAuth()
@Controller('v1')
export class RunsController {
  constructor(
    private readonly runs: RunSupervisor,
    private readonly feed: RunFeed,
    private readonly conversations: ConversationStore,
    private readonly sse: SseStreams,
  ) {}

  @Get('runs/:id')
  @ApiOperation({ summary: 'A run: its status, outcome and usage' })
  @ApiOkResponse({ type: RunStatusDto })
  @ApiErrors(400, 404)
  async get(@Param('id', uuidParam()) id: string, @TenantId() tenantId: string): Promise<RunStatusDto> {
    return toRunStatus(await this.runs.get(tenantId, id));
  }

  @Post('runs/:id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a run',
    description:
      'A queued run ends at once; a running one is stopped wherever it runs (answered once it stopped, or after a few seconds with its current status); a finished one is returned as it is.',
  })
  @ApiOkResponse({ type: RunStatusDto })
  @ApiErrors(400, 404)
  async cancel(@Param('id', uuidParam()) id: string, @TenantId() tenantId: string): Promise<RunStatusDto> {
    return toRunStatus(await this.runs.cancel(tenantId, id));
  }

  @Get('conversations/:id/runs')
  @ApiOperation({ summary: "A conversation's runs, newest first" })
  @ApiOkResponse({ type: RunListDto })
  @ApiErrors(400, 404)
  async list(
    @Param('id', uuidParam()) id: string,
    @Query() query: PageQueryDto,
    @TenantId() tenantId: string,
  ): Promise<RunListDto> {
    const conversation = await this.conversations.get(tenantId, id);
    const { runs, total } = await this.runs.page(tenantId, conversation.id, query.page, query.page_size);
    return { runs: runs.map(toRunStatus), total, page: query.page, page_size: query.page_size };
  }

  @Get('conversations/:id/events')
  @ApiOperation({
    summary: "Follow a conversation's run events over Server-Sent Events (resume)",
    description:
      'Sends the retained events after `Last-Event-ID` (or `after_seq`) in order, then the live events of this and later runs until the client closes; frames carry `id: <seq>`. Without either, live events only. A `: truncated` comment says some requested events are no longer retained (reload the conversation).',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'The last `id:` received.' })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: 'The event stream.',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiErrors(400, 404)
  async events(
    @Param('id', uuidParam()) id: string,
    @Query() query: EventsQueryDto,
    @TenantId() tenantId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @Headers('last-event-id') lastEventId?: string,
  ): Promise<void> {
    const startedAt = performance.now();
    let afterSeq = query.after_seq;
    if (lastEventId !== undefined && lastEventId !== '') {
      if (!LAST_EVENT_ID.test(lastEventId.trim())) {
        throw new ValidationError('The Last-Event-ID header is invalid.', [
          { field: 'Last-Event-ID', message: 'must be a non-negative whole number (an id: received)' },
        ]);
      }
      afterSeq = Number(lastEventId.trim());
    }
    const conversation = await this.conversations.get(tenantId, id);
    const response = reply.raw;
    const follower = {
      lastSeq: -1,
      thinking: query.include_thinking === 'true',
      deliver: (event: RunEvent) => {
        if (response.destroyed) return;
        response.write(sseFrame(event));
        // A client that reads slower than events come is let go: it resumes from its last id when it catches up.
        if (response.writableLength > MAX_UNREAD_BYTES) response.destroy();
      },
    };
    const following = await this.feed.follow(conversation.id, follower, { afterSeq });
    // Live only: the stream carries what is numbered after the conversation's latest event.
    if (afterSeq === undefined) follower.lastSeq = following.lastSeq;
    reply.hijack();
    this.sse.begin(response, reply.getHeaders(), String(request.id), startedAt);
    response.once('close', () => {
      this.feed.unfollow(conversation.id, follower);
      this.sse.end(response);
    });
    if (following.truncated) response.write(': truncated\n\n');
    following.start();
  }
}
