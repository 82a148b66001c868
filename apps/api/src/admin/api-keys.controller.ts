// The admin API for keys: list them, issue one for any tenant (its plaintext is shown once) and revoke one.
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ApiKeyService, Roles } from '@lib/auth';
import { ApiAdminAuth, ApiErrors } from '../http/api-errors';
import { uuidParam } from '../http/uuid-param';
import { ApiKeyListDto, ApiKeyListQueryDto, CreateApiKeyDto, CreatedApiKeyDto } from './api-key.dto';

@ApiTags('admin')
@ApiAdminAuth()
@Roles('admin')
@Controller('v1/admin/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeyService) {}

  @Get()
  @ApiOperation({
    summary: 'List API keys (admin only)',
    description:
      'Newest first; every tenant’s keys unless `tenant` names one; revoked keys only with `include_revoked=true`. ' +
      'A key is shown by its prefix: the key itself is never stored.',
  })
  @ApiOkResponse({ type: ApiKeyListDto })
  @ApiErrors(400)
  async list(@Query() query: ApiKeyListQueryDto): Promise<ApiKeyListDto> {
    const { keys, total } = await this.keys.list({
      tenant: query.tenant,
      includeRevoked: query.include_revoked,
      page: query.page,
      pageSize: query.page_size,
    });
    return {
      keys: keys.map((key) => ({
        id: key.id,
        tenant: key.tenant,
        role: key.role,
        name: key.name,
        prefix: key.prefix,
        created_at: key.createdAt.toISOString(),
        last_used_at: key.lastUsedAt?.toISOString() ?? null,
        revoked_at: key.revokedAt?.toISOString() ?? null,
      })),
      total,
      page: query.page,
      page_size: query.page_size,
    };
  }

  @Post()
  @ApiOperation({
    summary: 'Issue an API key (admin only)',
    description: 'The answer holds the key itself, shown this once: store it now. Only its hash is kept.',
  })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiErrors(400, 413)
  async create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    const issued = await this.keys.create({ tenant: body.tenant, role: body.role, name: body.name });
    return { id: issued.id, key: issued.key, tenant: issued.tenant, role: issued.role, name: issued.name };
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Revoke an API key (admin only)',
    description:
      'Every instance refuses the key within seconds. An unknown or already revoked id answers 404.',
  })
  @ApiNoContentResponse()
  @ApiErrors(400, 404)
  async revoke(@Param('id', uuidParam()) id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}
