import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { IdGenerator, ValidationError } from '@lib/core';
import { AgentRegistry } from '@lib/agents';
import { ConversationLock, ConversationStore } from '@lib/conversations';
import { ApiErrors, ApiKeyAuth } from '../http/api-errors';
import { CurrentPrincipal, Principal, TenantId } from '@lib/auth';
import { ConversationCeilingPolicy } from '@lib/usage';
import { uuidParam } from '../http/uuid-param';
import {
  ConversationDetailDto,
  ConversationListDto,
  ConversationSummaryDto,
  CreateConversationDto,
  PageQueryDto,
} from './conversation.dto';
import { toMessage, toSummary } from './conversation.mapper';

@ApiTags('conversations')
@ApiKeyAuth()
@Controller('v1/conversations')
export class ConversationsController {
  constructor(
    private readonly store: ConversationStore,
    private readonly lock: ConversationLock,
    private readonly agents: AgentRegistry,
    private readonly ids: IdGenerator,
    private readonly ceilings: ConversationCeilingPolicy,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Start an empty conversation with an agent' })
  @ApiCreatedResponse({ type: ConversationSummaryDto })
  @ApiErrors(400, 413)
  async create(
    @Body() body: CreateConversationDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ConversationSummaryDto> {
    this.ceilings.assertPermitted(body.cost_limit_usd, principal.role === 'admin');
    const agent = await this.agents.resolve(principal.tenantId, body.agent_name);
    const unknownTools = (body.require_approval ?? []).filter((name) => !agent.tools.includes(name));
    if (unknownTools.length) {
      throw new ValidationError(`Agent "${agent.name}" has no tool named ${unknownTools.join(', ')}.`, [
        { field: 'require_approval', message: `must name tools of the agent: ${agent.tools.join(', ')}` },
      ]);
    }
    const conversation = await this.store.create(principal.tenantId, {
      id: this.ids.uuid(),
      agentName: agent.name,
      agentPin: { agentId: agent.id, version: agent.version },
      title: body.title,
      temperature: body.temperature,
      maxIterations: body.max_iterations,
      metadata: body.metadata,
      costLimitUsd: body.cost_limit_usd,
      requireApproval: [...new Set(body.require_approval ?? [])],
      maxContextTokens: body.max_context_tokens,
    });
    return toSummary(conversation);
  }

  @Get()
  @ApiOperation({ summary: 'List conversations, most recent activity first' })
  @ApiOkResponse({ type: ConversationListDto })
  @ApiErrors(400)
  async list(@Query() query: PageQueryDto, @TenantId() tenantId: string): Promise<ConversationListDto> {
    const { items, total } = await this.store.list(tenantId, query.page, query.page_size);
    return { conversations: items.map(toSummary), total, page: query.page, page_size: query.page_size };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A conversation with its messages in order' })
  @ApiOkResponse({ type: ConversationDetailDto })
  @ApiErrors(400, 404)
  async get(
    @Param('id', uuidParam()) id: string,
    @TenantId() tenantId: string,
  ): Promise<ConversationDetailDto> {
    const conversation = await this.store.get(tenantId, id);
    const messages = await this.store.messages(tenantId, conversation.id);
    return { ...toSummary(conversation), messages: messages.map(toMessage) };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a conversation and its messages (usage records are kept)' })
  @ApiNoContentResponse()
  @ApiErrors(400, 404, 409)
  async remove(@Param('id', uuidParam()) id: string, @TenantId() tenantId: string): Promise<void> {
    const conversation = await this.store.get(tenantId, id);
    // Never delete under a running turn: it would fail to store and the client would lose its answer.
    const lease = await this.lock.acquire(conversation.id);
    try {
      await this.store.delete(tenantId, conversation.id);
    } finally {
      await lease.release();
    }
  }
}
