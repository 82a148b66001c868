// Server-Sent Events for POST /v1/chat/stream: the turn's events as `event: <type>` frames, unbuffered by proxies.
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { AppConfig } from '@lib/core';
import { LiveTurn, wirePayload } from '@lib/realtime';

/** Writes every open SSE stream's heartbeat from one timer, rather than one timer per connection. */
@Injectable()
export class SseStreams implements OnModuleDestroy {
  private readonly open = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly config: AppConfig) {}

  /** `headers`: what the app's hooks already set on the reply (helmet, CORS, rate limit), kept on the stream. */
  async pipe(
    turn: LiveTurn,
    response: ServerResponse,
    headers: Record<string, unknown>,
    requestId: string,
    startedAt: number,
  ): Promise<void> {
    response.writeHead(200, {
      ...(headers as Record<string, string | number | string[]>),
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx and similar proxies buffer responses unless told otherwise.
      'X-Accel-Buffering': 'no',
      'X-Request-ID': requestId,
      'X-Response-Time': `${(performance.now() - startedAt).toFixed(2)}ms`,
    });
    response.flushHeaders();
    this.add(response);
    try {
      for await (const event of turn.events) {
        if (response.destroyed) continue;
        const { name, payload } = wirePayload(event);
        response.write(
          `event: ${name}\ndata: ${JSON.stringify({ conversation_id: turn.conversationId, ...payload })}\n\n`,
        );
      }
    } finally {
      this.open.delete(response);
      if (!response.destroyed) response.end();
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private add(response: ServerResponse): void {
    this.open.add(response);
    if (!this.timer) {
      this.timer = setInterval(() => this.heartbeat(), this.config.sseHeartbeatMs);
      this.timer.unref();
    }
  }

  private heartbeat(): void {
    for (const response of this.open) {
      if (!response.destroyed) response.write(': heartbeat\n\n');
    }
  }

  get openCount(): number {
    return this.open.size;
  }
}
