// The agents API: every key reads the agents its tenant can use; admin keys create, version and delete them.
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { AgentInput, AgentRegistry, AgentService, StoredAgent } from '@lib/agents';
import { CurrentPrincipal, Principal, Roles, TenantId } from '@lib/auth';
import { ValidationError } from '@lib/core';
import { LlmClient } from '@lib/llm';
import { ToolRegistry } from '@lib/tools';
import { ApiAdminAuth, ApiErrors, ApiKeyAuth } from '../http/api-errors';
import {
  AgentDto,
  AgentSettingsDto,
  AgentSummaryDto,
  AgentToolDto,
  CreateAgentDto,
  DeleteAgentQueryDto,
  UpdateAgentDto,
} from './agent.dto';

const NAME_PARAM = { name: 'name', example: 'support', description: 'The agent’s name.' };

@ApiTags('agents')
@Controller('v1/agents')
export class AgentsController {
  constructor(
    private readonly registry: AgentRegistry,
    private readonly agents: AgentService,
    private readonly tools: ToolRegistry,
    private readonly llm: LlmClient,
  ) {}

  @Get()
  @ApiKeyAuth()
  @ApiOperation({
    summary: 'The agents this tenant can use',
    description:
      "The tenant's own agents and the global ones (a tenant's agent hides a global one of its name).",
  })
  @ApiOkResponse({ type: [AgentSummaryDto] })
  async list(@TenantId() tenantId: string): Promise<AgentSummaryDto[]> {
    return (await this.registry.list(tenantId)).map((a) => ({
      name: a.name,
      tenant: a.tenant,
      version: a.version,
      description: a.description,
      model: this.llm.modelFor(a.model),
      tools: [...a.tools],
      // Never sent to the model (see AgentSummaryDto.temperature): said as it is.
      temperature: null,
      max_iterations: a.maxIterations,
    }));
  }

  @Get(':name')
  @ApiKeyAuth()
  @ApiOperation({
    summary: 'An agent, with its current version and its tools’ input schemas',
    description: "Another tenant's agent answers 404, as a missing one does.",
  })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: AgentDto })
  @ApiErrors(404)
  async get(@Param('name') name: string, @TenantId() tenantId: string): Promise<AgentDto> {
    return this.toDto(await this.registry.get(tenantId, name), tenantId);
  }

  @Post()
  @Roles('admin')
  @ApiAdminAuth()
  @ApiOperation({
    summary: 'Create an agent (admin only)',
    description:
      "Version 1 of a new agent, for the key's tenant, another tenant (`tenant`) or every tenant (`tenant: null`). " +
      'Every tool named must exist for that owner (400); an owner has one agent per name (409 `conflict`). A ' +
      "tenant's agent may have the name of a global one: that tenant then gets its own.",
  })
  @ApiCreatedResponse({ type: AgentDto })
  @ApiErrors(400, 409, 413)
  async create(@Body() body: CreateAgentDto, @CurrentPrincipal() principal: Principal): Promise<AgentDto> {
    const owner = body.tenant === undefined ? principal.tenantId : body.tenant;
    const agent = await this.agents.create(author(principal), owner, body.name, toInput(body));
    return this.toDto(agent, principal.tenantId);
  }

  @Put(':name')
  @Roles('admin')
  @ApiAdminAuth()
  @ApiOperation({
    summary: 'Save a new version of an agent (admin only)',
    description:
      'The body is the whole definition, saved as version n + 1 and used by conversations and tasks started from ' +
      'now on. Conversations and tasks that exist (running ones too) keep the version they started with.',
  })
  @ApiParam(NAME_PARAM)
  @ApiOkResponse({ type: AgentDto })
  @ApiErrors(400, 404, 413)
  async update(
    @Param('name') name: string,
    @Body() body: UpdateAgentDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<AgentDto> {
    if (body.name !== undefined && body.name !== name) {
      throw new ValidationError('An agent keeps its name.', [
        { field: 'name', message: `must be "${name}", the name in the path, or left out` },
      ]);
    }
    const agent = await this.agents.update(author(principal), body.tenant, name, toInput(body));
    return this.toDto(agent, principal.tenantId);
  }

  @Delete(':name')
  @HttpCode(204)
  @Roles('admin')
  @ApiAdminAuth()
  @ApiOperation({
    summary: 'Delete an agent (admin only)',
    description:
      'No new conversation, task or turn can use it; its conversations stay readable. The name is free again.',
  })
  @ApiParam(NAME_PARAM)
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  async remove(
    @Param('name') name: string,
    @Query() query: DeleteAgentQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    if (query.global === 'true' && query.tenant !== undefined) {
      throw new ValidationError('Name a tenant or the global agent, not both.', [
        { field: 'global', message: 'must be left out when tenant is given' },
      ]);
    }
    const owner = query.global === 'true' ? null : query.tenant;
    await this.agents.remove(author(principal), owner, name);
  }

  private async toDto(agent: StoredAgent, tenantId: string): Promise<AgentDto> {
    const approval = new Set(agent.toolsRequiringApproval ?? []);
    // A global agent's MCP tools are those of the asking tenant's view; a tenant's agent, its own tenant's.
    const toolTenant = agent.tenant ?? tenantId;
    const tools: AgentToolDto[] = [];
    for (const name of agent.tools) {
      const { tools: found } = await this.tools.resolve([name], toolTenant);
      if (!found.length) {
        tools.push({
          name,
          requires_approval: approval.has(name),
          origin: null,
          description: null,
          input_schema: null,
        });
      }
      for (const tool of found) {
        tools.push({
          name: tool.name,
          requires_approval: approval.has(name),
          origin: tool.origin,
          description: tool.description,
          input_schema: tool.input_schema,
        });
      }
    }
    return {
      name: agent.name,
      tenant: agent.tenant,
      version: agent.version,
      description: agent.description,
      system_prompt: agent.systemPrompt,
      model: this.llm.modelFor(agent.model),
      temperature: null,
      max_iterations: agent.maxIterations,
      max_tokens: agent.maxTokens,
      thinking_budget_tokens: agent.thinkingBudgetTokens ?? null,
      max_context_tokens: agent.maxContextTokens ?? null,
      tools,
      created_at: agent.createdAt.toISOString(),
      updated_at: agent.updatedAt.toISOString(),
    };
  }
}

function author(principal: Principal): { tenantId: string; apiKeyId: string | null } {
  return { tenantId: principal.tenantId, apiKeyId: principal.apiKeyId };
}

function toInput(body: AgentSettingsDto): AgentInput {
  return {
    description: body.description,
    systemPrompt: body.system_prompt,
    model: body.model,
    temperature: body.temperature,
    maxIterations: body.max_iterations,
    maxTokens: body.max_tokens,
    thinkingBudgetTokens: body.thinking_budget_tokens,
    maxContextTokens: body.max_context_tokens,
    tools: body.tools.map((t) =>
      typeof t === 'string'
        ? { name: t, requiresApproval: false }
        : { name: t.name, requiresApproval: t.requires_approval ?? false },
    ),
  };
}
