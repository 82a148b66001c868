// API keys, tenants, the REST guard, the Socket.IO handshake check and socket guard, and the rate-limit storage.
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AdminKeyBootstrap } from './admin-key-bootstrap';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeyGuard } from './api-key.guard';
import { ApiKeyService } from './api-key.service';
import { KeyRateLimit } from './key-rate-limit';
import { RedisThrottlerStorage } from './redis-throttler-storage';
import { SocketAuthenticator } from './socket-authenticator';
import { SocketConnectionLimit } from './socket-connection-limit';
import { SocketGuard } from './socket-guard';
import { UnauthenticatedLimit } from './unauthenticated-limit';

@Module({
  imports: [TypeOrmModule.forFeature([ApiKeyEntity])],
  providers: [
    ApiKeyService,
    ApiKeyGuard,
    SocketAuthenticator,
    AdminKeyBootstrap,
    RedisThrottlerStorage,
    KeyRateLimit,
    SocketConnectionLimit,
    SocketGuard,
    UnauthenticatedLimit,
  ],
  exports: [
    ApiKeyService,
    ApiKeyGuard,
    SocketAuthenticator,
    AdminKeyBootstrap,
    RedisThrottlerStorage,
    KeyRateLimit,
    SocketConnectionLimit,
    SocketGuard,
  ],
})
export class AuthModule {}
