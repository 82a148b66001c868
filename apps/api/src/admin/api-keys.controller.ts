// The admin API for keys: issue one for any tenant (its plaintext is shown once) and revoke one.
import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyService, Roles } from '@lib/auth';
import { ApiAdminAuth, ApiErrors } from '../http/api-errors';
import { uuidParam } from '../http/uuid-param';
import { CreateApiKeyDto, CreatedApiKeyDto } from './api-key.dto';

@ApiTags('admin')
@ApiAdminAuth()
@Roles('admin')
@Controller('v1/admin/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeyService) {}

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
