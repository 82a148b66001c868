import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { PageQueryDto } from '../conversations/conversation.dto';
import { ROLES, type Role } from '@lib/auth';

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const TENANT_MESSAGE =
  "tenant must be 1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit";

export class CreateApiKeyDto {
  @ApiProperty({
    example: 'acme',
    description: 'The tenant the key belongs to: it sees that tenant’s data only.',
  })
  @IsString()
  @Matches(TENANT_PATTERN, { message: TENANT_MESSAGE })
  tenant: string;

  @ApiProperty({ enum: ROLES, example: 'user', description: '`admin` may also manage keys.' })
  @IsIn(ROLES, { message: `role must be one of ${ROLES.join(', ')}` })
  role: Role;

  @ApiProperty({ example: 'billing-service', description: 'Who uses the key, for operators.' })
  @IsString()
  @Length(1, 100)
  name: string;
}

export class CreatedApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({
    example: 'ak_live_3xAmPlE0000000000000000000000000000000000',
    description: 'The key itself: shown this once, only its hash is stored.',
  })
  key: string;
  @ApiProperty({ example: 'acme' }) tenant: string;
  @ApiProperty({ enum: ROLES, example: 'user' }) role: Role;
  @ApiProperty({ example: 'billing-service' }) name: string;
}

export class ApiKeyListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'acme', description: 'Only this tenant’s keys (default: every tenant’s).' })
  @IsOptional()
  @IsString()
  @Matches(TENANT_PATTERN, { message: TENANT_MESSAGE })
  tenant?: string;

  @ApiPropertyOptional({ default: false, description: 'Also list revoked keys.' })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'include_revoked must be true or false' })
  include_revoked: boolean = false;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'acme' }) tenant: string;
  @ApiProperty({ enum: ROLES, example: 'user' }) role: Role;
  @ApiProperty({ example: 'billing-service' }) name: string;
  @ApiProperty({ example: 'ak_live_3xAm', description: 'The first characters of the key, to recognise it.' })
  prefix: string;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_used_at: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at: string | null;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] }) keys: ApiKeyDto[];
  @ApiProperty({ example: 3 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) page_size: number;
}
