// Server-Sent Events: a run's events (POST /v1/chat/stream) or a conversation's (GET /v1/conversations/{id}/events)
// as `id: <seq>` / `event: <name>` / `data: <json>` frames, unbuffered by proxies, with one heartbeat timer for all.
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { AppConfig, RunEvent } from '@lib/core';
import { RunHandle } from '@lib/runs';

export function sseFrame(event: RunEvent): string {
  return `id: ${event.payload.seq}\nevent: ${event.name}\ndata: ${JSON.stringify(event.payload)}\n\n`;
}

@Injectable()
export class SseStreams implements OnModuleDestroy {
  private readonly open = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly config: AppConfig) {}

  /** `headers`: what the app's hooks already set on the reply (helmet, CORS, rate limit), kept on the stream. */
  begin(
    response: ServerResponse,
    headers: Record<string, unknown>,
    requestId: string,
    startedAt: number,
  ): void {
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
    this.open.add(response);
    if (!this.timer) {
      this.timer = setInterval(() => this.heartbeat(), this.config.sseHeartbeatMs);
      this.timer.unref();
    }
  }

  /**
   * Writes a run's events until its end; waits for the client to drain when its buffer is full. `thinking` events
   * only with `includeThinking`.
   */
  async pipeRun(run: RunHandle, response: ServerResponse, includeThinking = false): Promise<void> {
    try {
      for await (const event of run.events) {
        if (response.destroyed) break;
        if (event.name === 'thinking' && !includeThinking) continue;
        if (!response.write(sseFrame(event))) await drained(response);
      }
    } finally {
      this.end(response);
    }
  }

  end(response: ServerResponse): void {
    this.open.delete(response);
    if (!response.destroyed && !response.writableEnded) response.end();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
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

/** Resolves when the response can take more, or when it closed. */
export function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
