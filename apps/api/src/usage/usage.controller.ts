import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Principal } from '@lib/auth';
import { ForbiddenError, ValidationError } from '@lib/core';
import { UsageService } from '@lib/usage';
import { ApiErrors, ApiKeyAuth } from '../http/api-errors';
import { CurrentPrincipal } from '@lib/auth';
import { UsageQueryDto, UsageReportDto } from './usage.dto';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

@ApiTags('usage')
@ApiKeyAuth()
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({
    summary: 'Model calls, tokens and cost, grouped by agent, conversation, day or API key',
    description:
      'Sums over the recorded model calls (`llm_calls`) of the tenant, failed turns included. ' +
      'An admin key may name another `tenant`.',
  })
  @ApiOkResponse({ type: UsageReportDto })
  @ApiErrors(400, 403)
  async report(
    @Query() query: UsageQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<UsageReportDto> {
    if (query.tenant !== undefined && principal.role !== 'admin') {
      throw new ForbiddenError(
        'Only an admin API key may name a tenant; leave tenant out for your own usage.',
      );
    }
    const from = query.from === undefined ? undefined : new Date(query.from);
    // A date names a whole day: the range runs to the end of it.
    const to =
      query.to === undefined
        ? undefined
        : new Date(new Date(query.to).getTime() + (DATE_ONLY.test(query.to) ? DAY_MS : 0));
    if (from && to && from >= to) {
      throw new ValidationError('The date range is empty: from must come before to.', [
        { field: 'from', message: 'must be before to' },
      ]);
    }
    return this.usage.report(query.tenant ?? principal.tenantId, { groupBy: query.group_by, from, to });
  }
}
