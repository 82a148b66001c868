// Serves the built console (apps/console, written to CONSOLE_DIR by `npm run build`) at /console/ and sends `/` there.
import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { DomainError } from '@lib/core';
import { describeError, sendError } from '../http/error-envelope.filter';

export const CONSOLE_PATH = '/console/';

/** Vite names every emitted asset after its content hash: such a file never changes under its name. */
const HASHED_ASSET = /[/\\]assets[/\\][^/\\]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

/** Cache-Control for a console file: a year for hashed assets, revalidation for index.html and the rest. */
export function consoleCacheControl(filePath: string): string {
  return HASHED_ASSET.test(filePath) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

export async function mountConsole(app: NestFastifyApplication, consoleDir: string): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  fastify.get('/', (_request, reply) => reply.redirect(CONSOLE_PATH, 302));
  if (!existsSync(join(consoleDir, 'index.html'))) {
    new Logger('Console').warn(
      `No console build in ${consoleDir}: run "npm run build" to serve it at /console.`,
    );
    const notBuilt = new DomainError(
      'not_found',
      'The console is not built on this server: run "npm run build" (or set CONSOLE_DIR).',
    );
    fastify.get('/console', (request, reply) => sendError(reply, request, describeError(notBuilt, request)));
    fastify.get('/console/*', (request, reply) =>
      sendError(reply, request, describeError(notBuilt, request)),
    );
    return;
  }
  // The page's asset URLs are absolute, but its address should end in a slash like every directory's.
  fastify.get('/console', (_request, reply) => reply.redirect(CONSOLE_PATH, 301));
  await app.register(fastifyStatic, {
    root: consoleDir,
    prefix: CONSOLE_PATH,
    decorateReply: false,
    cacheControl: false,
    setHeaders: (reply, filePath) => void reply.header('Cache-Control', consoleCacheControl(filePath)),
  });
}
