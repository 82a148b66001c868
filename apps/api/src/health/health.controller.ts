// Liveness (the process answers) and readiness (PostgreSQL and Redis answer, and the provider key pool still has
// a key the provider accepts), through terminus.
import { Controller, Get } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from '@lib/auth';
import { RedisService, ServiceUnavailableError, ShutdownState } from '@lib/core';
import { LlmClient } from '@lib/llm';
import { ErrorEnvelopeDto } from '../http/error-envelope';
import { HealthCheckDto, HealthLiveDto, HealthReadyDto } from './health.dto';

const CHECK_TIMEOUT_MS = 1500;

@ApiTags('health')
@ApiExtraModels(HealthCheckDto)
// Probes come from load balancers and orchestrators without a key, and must answer while Redis is down.
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisService,
    private readonly llm: LlmClient,
    private readonly shutdown: ShutdownState,
  ) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process is up' })
  @ApiOkResponse({ type: HealthLiveDto })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Readiness: PostgreSQL and Redis answer, and a provider API key is left',
    description:
      '`llm_keys` lists the provider key pool (keys named by position and a SHA-256 prefix): a key the provider ' +
      'refused (401/403) shows as `removed`; readiness fails only when no key is left.',
  })
  @ApiOkResponse({
    type: HealthReadyDto,
    example: {
      status: 'ok',
      info: {
        database: { status: 'up' },
        redis: { status: 'up' },
        llm_keys: {
          status: 'up',
          total: 2,
          active: 1,
          keys: [
            { key: '#1 (sha256 3f2a9c1b0d4e5f61)', status: 'active' },
            {
              key: '#2 (sha256 9b1c2d3e4f506172)',
              status: 'removed',
              reason: '401: The model provider rejected the API key.',
              removed_at: '2026-11-24T10:00:00.000Z',
            },
          ],
        },
      },
    },
  })
  @ApiServiceUnavailableResponse({
    type: ErrorEnvelopeDto,
    description:
      '`service_unavailable`: one detail per failing check, or the instance is draining for a shutdown.',
  })
  ready(): Promise<HealthCheckResult> {
    // Out of the load balancer at once on SIGTERM, while the running turns finish.
    if (this.shutdown.draining) {
      throw new ServiceUnavailableError('This instance is shutting down.', 1);
    }
    return this.health.check([
      () => this.database.pingCheck('database').withTimeout(CHECK_TIMEOUT_MS),
      () =>
        this.indicators
          .check('redis')
          .attempt(() => this.redis.ping())
          .withTimeout(CHECK_TIMEOUT_MS),
      () => this.keyPool(),
    ]);
  }

  /** The offline model has no keys: the check says so and is always up. */
  private keyPool() {
    const indicator = this.indicators.check('llm_keys');
    const pool = this.llm.keyPool();
    if (!pool) return indicator.up({ mode: 'offline-demo' });
    const details = { total: pool.total, active: pool.active, keys: pool.keys };
    return pool.active > 0
      ? indicator.up(details)
      : indicator.down({ ...details, message: 'the provider refused every API key' });
  }
}
