// GET /docs/asyncapi.json (the AsyncAPI 3 document of the Socket.IO and SSE protocol) and GET /docs/asyncapi (the
// same, rendered for people). Public like /docs; the servers in it are the host the caller reached.
import { Controller, Get, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from '@lib/auth';
import { AsyncApiDocument, AsyncApiTarget, buildAsyncApiDocument } from '@lib/core';
import { renderAsyncApiPage } from './asyncapi-page';

const HOST = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;
/** Documents and pages kept per host, so a page is rendered once; bounded, since the Host header is the caller's. */
const CACHED_HOSTS = 16;

interface Rendered {
  document: AsyncApiDocument;
  json: string;
  page?: string;
}

@ApiExcludeController()
@Public()
// Like Swagger UI at /docs, which the rate limit does not cover either.
@SkipThrottle()
@Controller('docs')
export class AsyncApiController {
  private readonly cache = new Map<string, Rendered>();

  @Get('asyncapi.json')
  json(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): string {
    reply.header('Content-Type', 'application/json; charset=utf-8');
    return this.rendered(target(request)).json;
  }

  @Get('asyncapi')
  page(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): string {
    reply.header('Content-Type', 'text/html; charset=utf-8');
    const rendered = this.rendered(target(request));
    rendered.page ??= renderAsyncApiPage(rendered.document);
    return rendered.page;
  }

  private rendered(at: AsyncApiTarget): Rendered {
    const key = `${at.secure ? 's' : ''}:${at.host}`;
    let rendered = this.cache.get(key);
    if (!rendered) {
      const document = buildAsyncApiDocument(at);
      rendered = { document, json: JSON.stringify(document) };
      if (this.cache.size >= CACHED_HOSTS) this.cache.clear();
      this.cache.set(key, rendered);
    }
    return rendered;
  }
}

/** Where this caller reached the API (behind a proxy: X-Forwarded-Host and -Proto, as trustProxy allows). */
function target(request: FastifyRequest): AsyncApiTarget {
  const host = HOST.test(request.host) ? request.host : 'localhost';
  return { host, secure: request.protocol === 'https' };
}
