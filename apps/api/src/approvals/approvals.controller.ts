// Approvals over REST: the tenant's inbox of tool calls waiting for (or given) a decision, and decisions on a run.
import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, Principal, TenantId } from '@lib/auth';
import { RunApprovals, RunSupervisor, toRunStatus } from '@lib/runs';
import { ApiErrors, ApiKeyAuth } from '../http/api-errors';
import { uuidParam } from '../http/uuid-param';
import { RunStatusDto } from '../runs/run.dto';
import { ApprovalListDto, ApprovalQueryDto, DecideDto } from './approval.dto';

@ApiTags('approvals')
@ApiKeyAuth()
@Controller('v1')
export class ApprovalsController {
  constructor(
    private readonly approvals: RunApprovals,
    private readonly runs: RunSupervisor,
  ) {}

  @Get('approvals')
  @ApiOperation({
    summary: "The tenant's approvals inbox",
    description:
      '`status=pending` (default): tool calls waiting for a decision, soonest to expire first. `status=decided`: ' +
      'approved, denied and expired calls with the deciding key and time, latest first.',
  })
  @ApiOkResponse({ type: ApprovalListDto })
  @ApiErrors(400)
  async list(@Query() query: ApprovalQueryDto, @TenantId() tenantId: string): Promise<ApprovalListDto> {
    const { approvals, total } = await this.approvals.page(
      tenantId,
      query.status,
      query.page,
      query.page_size,
    );
    return { approvals, total, page: query.page, page_size: query.page_size };
  }

  @Post('runs/:id/approvals')
  @HttpCode(202)
  @ApiOperation({
    summary: "Decide a run's waiting tool calls",
    description:
      'Records each decision with the calling key, all or none. An approved call runs; a denied one gets an ' +
      "`is_error` tool result with the reason and the model goes on. Once none of the run's calls waits, the run " +
      "continues (on this instance, or in a worker for a task) and its events reach the conversation's followers. " +
      "404: another tenant's or an unknown run, or a tool_use_id the run does not wait for. 409 " +
      '(`conversation_busy`, with `details`): a call decided already, an `arguments_sha256` that is not the ' +
      "waiting call's, or a run that is not waiting for a decision.",
  })
  @ApiAcceptedResponse({ type: RunStatusDto })
  @ApiErrors(400, 404, 409)
  async decide(
    @Param('id', uuidParam()) id: string,
    @Body() body: DecideDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<RunStatusDto> {
    await this.approvals.decide(
      principal.tenantId,
      id,
      body.decisions.map((d) => ({
        toolUseId: d.tool_use_id,
        approve: d.approve,
        reason: d.reason,
        argumentsSha256: d.arguments_sha256,
      })),
      principal.apiKeyId,
    );
    return toRunStatus(await this.runs.get(principal.tenantId, id));
  }
}
