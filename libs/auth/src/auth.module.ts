// API keys, tenants, the REST guard, the Socket.IO handshake check and the rate-limit storage.
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminKeyBootstrap } from './admin-key-bootstrap';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyGuard } from './api-key.guard';
import { ApiKeyService } from './api-key.service';
import { RedisThrottlerStorage } from './redis-throttler-storage';
import { SocketAuthenticator } from './socket-authenticator';
import { UnauthenticatedLimit } from './unauthenticated-limit';

@Module({
  imports: [TypeOrmModule.forFeature([ApiKeyEntity])],
  providers: [
    ApiKeyService,
    ApiKeyGuard,
    SocketAuthenticator,
    AdminKeyBootstrap,
    RedisThrottlerStorage,
    UnauthenticatedLimit,
  ],
  exports: [ApiKeyService, ApiKeyGuard, SocketAuthenticator, AdminKeyBootstrap, RedisThrottlerStorage],
})
export class AuthModule {}
