import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Length, Matches } from 'class-validator';
import { ROLES, type Role } from '@lib/auth';

export class CreateApiKeyDto {
  @ApiProperty({
    example: 'acme',
    description: 'The tenant the key belongs to: it sees that tenant’s data only.',
  })
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, {
    message: "tenant must be 1 to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
  })
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
