// Bull Board at /admin/queues: the agent-tasks and webhooks queues, for admin API keys only. Mounted as a
// Fastify plugin (the board is not a Nest controller), so it checks the key itself, with the same service.
import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bull';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bull';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyService, bearerToken, hasRole } from '@lib/auth';
import { ForbiddenError, UnauthorizedError } from '@lib/core';
import { AGENT_TASKS_QUEUE } from '@lib/tasks';
import { WEBHOOKS_QUEUE } from '@lib/webhooks';
import { describeError, sendError } from '../http/error-envelope.filter';

export const QUEUE_BOARD_PATH = '/admin/queues';

/** The key from `Authorization: Bearer <key>`, or from Basic credentials (any user, the key as password). */
function keyOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  if (/^basic\s/i.test(header)) {
    const decoded = Buffer.from(header.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    return separator >= 0 ? decoded.slice(separator + 1) : undefined;
  }
  return bearerToken(header) ?? undefined;
}

export async function mountQueueBoard(app: NestFastifyApplication): Promise<void> {
  const board = new FastifyAdapter();
  board.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: [AGENT_TASKS_QUEUE, WEBHOOKS_QUEUE].map(
      (name) => new BullAdapter(app.get<Queue>(getQueueToken(name), { strict: false })),
    ),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Agent backend' } },
  });
  const keys = app.get(ApiKeyService, { strict: false });

  const requireAdmin = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      const key = keyOf(request.headers.authorization);
      if (!key) throw new UnauthorizedError();
      const principal = await keys.authenticate(key);
      if (!hasRole(principal, ['admin'])) throw new ForbiddenError('The queue board needs an admin API key.');
    } catch (error) {
      sendError(reply, request, describeError(error, request));
      return reply;
    }
  };

  // An encapsulated scope: the admin check covers the board's routes and nothing else.
  await app.register(async (scope: FastifyInstance) => {
    scope.addHook('onRequest', requireAdmin);
    // Browsers prompt for credentials on the Basic challenge: any user name, the admin key as the password.
    scope.addHook('onSend', async (_request, reply, payload) => {
      if (reply.statusCode === 401) {
        reply.header('WWW-Authenticate', 'Basic realm="queues", Bearer realm="agent-backend"');
      }
      return payload;
    });
    await scope.register(board.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}
