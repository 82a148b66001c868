// GET /metrics on the API port (when METRICS_PORT does not give it a listener of its own): the Prometheus text of
// the process registry, for METRICS_TOKEN or an admin API key. Kept out of the OpenAPI document: it is for
// Prometheus, not for API clients.
import { Controller, Get, Headers, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiKeyService, bearerToken, hasRole, Public } from '@lib/auth';
import { AppConfig, ForbiddenError, Metrics, UnauthorizedError } from '@lib/core';

const NEEDS_CREDENTIALS =
  'The metrics need METRICS_TOKEN or an admin API key: send it as Authorization: Bearer <token>.';

@ApiExcludeController()
// The guard is opened here and the check below is the metrics' own: a scrape token is not an API key.
@Public()
@SkipThrottle()
@Controller('metrics')
export class MetricsController {
  private readonly tokenHash: Buffer | null;

  constructor(
    private readonly metrics: Metrics,
    private readonly keys: ApiKeyService,
    config: AppConfig,
  ) {
    this.tokenHash = config.metricsToken ? sha256(config.metricsToken) : null;
  }

  @Get()
  async scrape(
    @Headers('authorization') authorization: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<string> {
    await this.authorize(authorization);
    reply.header('Content-Type', this.metrics.registry.contentType);
    reply.header('Cache-Control', 'no-store');
    return this.metrics.text();
  }

  private async authorize(authorization: string | undefined): Promise<void> {
    const token = bearerToken(authorization);
    if (!token) throw new UnauthorizedError(NEEDS_CREDENTIALS);
    if (this.tokenHash && timingSafeEqual(sha256(token), this.tokenHash)) return;
    const principal = await this.keys.authenticate(token).catch((error: unknown) => {
      if (error instanceof UnauthorizedError) throw new UnauthorizedError(NEEDS_CREDENTIALS);
      throw error;
    });
    if (!hasRole(principal, ['admin'])) throw new ForbiddenError('The metrics need an admin API key.');
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
