// The process metrics (CPU, memory, event loop, GC) in the registry, and with METRICS_PORT a listener of its own
// that serves GET /metrics: how Prometheus scrapes API pods inside the cluster and workers (which have no HTTP
// otherwise). It also answers GET /health/live, the liveness probe of a worker.
import {
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { Metrics } from './metrics';

@Injectable()
export class MetricsServer implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private server: Server | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    collectDefaultMetrics({ register: this.metrics.registry });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.metricsPort === undefined) return;
    const server = createServer((request, response) => void this.answer(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.metricsPort, this.config.host, () => resolve());
    });
    // Scrapes are short: idle keep-alive sockets must not hold the process open at shutdown.
    server.keepAliveTimeout = 5_000;
    this.server = server;
    this.logger.log(`Metrics listening on ${this.url}`);
  }

  /** The separate listener's /metrics URL, when METRICS_PORT is set. */
  get url(): string | undefined {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) return undefined;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}/metrics`;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0];
    if (path === '/health/live' && request.method === 'GET') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end('Not found: GET /metrics or /health/live\n');
      return;
    }
    try {
      const text = await this.metrics.text();
      response.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
    } catch (error) {
      this.logger.error({ err: error }, 'Could not collect the metrics');
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Collecting failed\n');
    }
  }
}
