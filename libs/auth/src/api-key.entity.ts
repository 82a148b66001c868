// Table mapping of the API keys; it stays inside this lib (callers get a Principal or an ApiKeyRecord).
import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Role } from './principal';

@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text') tenant_id: string;
  @Column('text') name: string;
  @Column('text') role: Role;
  @Column('bytea') key_hash: Buffer;
  @Column('text') prefix: string;
  @Column('timestamptz') created_at: Date;
  @Column('timestamptz', { nullable: true }) last_used_at: Date | null;
  @Column('timestamptz', { nullable: true }) revoked_at: Date | null;
}
