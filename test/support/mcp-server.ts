// A real MCP server on loopback, built with the official SDK (streamable HTTP, with sessions), for the e2e tests:
// tools that echo their `_meta`, fail, hang, answer garbage or drop the connection; a restart forgets every session.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  CallToolResult,
  isInitializeRequest,
  ListToolsRequestSchema,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';

export interface RecordedCall {
  name: string;
  arguments: Record<string, unknown>;
  meta: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export interface McpTestServerOptions {
  port?: number;
  /** Headers every request must carry (else 401), e.g. `{authorization: 'Bearer …'}`. */
  requiredHeaders?: Record<string, string>;
}

const object = (properties: Record<string, object>, required: string[] = []) => ({
  type: 'object' as const,
  properties,
  required,
  additionalProperties: false,
});

export const TEST_TOOLS: Tool[] = [
  {
    name: 'echo',
    description: 'Echoes the text, with the request metadata it received.',
    inputSchema: object({ text: { type: 'string', minLength: 1 } }, ['text']),
  },
  { name: 'fail', description: 'Always reports a tool error.', inputSchema: object({}) },
  {
    name: 'slow',
    description: 'Answers after `ms` milliseconds.',
    inputSchema: object({ ms: { type: 'integer', minimum: 0 } }, ['ms']),
  },
  { name: 'garbage', description: 'Answers something that is not JSON-RPC.', inputSchema: object({}) },
  { name: 'drop', description: 'Drops the connection mid-call.', inputSchema: object({}) },
  {
    name: 'bad_schema',
    description: 'Has an input schema that does not compile.',
    inputSchema: { type: 'object', properties: { x: { type: 'no-such-type' } } } as Tool['inputSchema'],
  },
];

export class McpTestServer {
  readonly calls: RecordedCall[] = [];
  /** Every request's headers, in arrival order. */
  readonly requestHeaders: Array<Record<string, string | string[] | undefined>> = [];
  private readonly tools: Tool[] = [...TEST_TOOLS];
  private readonly sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: Server }>();

  private constructor(
    private readonly http: HttpServer,
    readonly url: string,
    readonly port: number,
    private readonly options: McpTestServerOptions,
  ) {}

  static async start(options: McpTestServerOptions = {}): Promise<McpTestServer> {
    const http = createServer();
    http.listen(options.port ?? 0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    const server = new McpTestServer(http, `http://127.0.0.1:${port}/mcp`, port, options);
    http.on('request', (req, res) => void server.handle(req, res));
    return server;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Adds a tool and tells every open session that the list changed. */
  async addTool(tool: Tool): Promise<void> {
    this.tools.push(tool);
    await Promise.all([...this.sessions.values()].map(({ server }) => server.sendToolListChanged()));
  }

  async stop(): Promise<void> {
    for (const { transport } of this.sessions.values()) await transport.close().catch(() => undefined);
    this.sessions.clear();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requestHeaders.push({ ...req.headers });
    for (const [name, value] of Object.entries(this.options.requiredHeaders ?? {})) {
      if (req.headers[name.toLowerCase()] !== value) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
        return;
      }
    }
    let body: unknown;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const message = body as { method?: string; params?: { name?: string } };
      if (message.method === 'tools/call' && message.params?.name === 'garbage') {
        this.record(message, req);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"jsonrpc": "2.0", "result": <garbage');
        return;
      }
      if (message.method === 'tools/call' && message.params?.name === 'drop') {
        this.record(message, req);
        req.socket.destroy();
        return;
      }
    }
    const sessionId = req.headers['mcp-session-id'];
    let session = typeof sessionId === 'string' ? this.sessions.get(sessionId) : undefined;
    if (!session) {
      if (typeof sessionId === 'string' || !isInitializeRequest(body)) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }),
        );
        return;
      }
      const server = this.mcpServer();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          this.sessions.set(id, { transport, server });
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) this.sessions.delete(transport.sessionId);
      };
      await server.connect(transport);
      session = { transport, server };
    }
    await session.transport.handleRequest(req, res, body);
  }

  private record(message: unknown, req: IncomingMessage): RecordedCall {
    const params =
      (message as { params?: { name?: string; arguments?: unknown; _meta?: unknown } }).params ?? {};
    const call = {
      name: String(params.name),
      arguments: (params.arguments ?? {}) as Record<string, unknown>,
      meta: (params._meta ?? {}) as Record<string, unknown>,
      headers: { ...req.headers },
    };
    this.calls.push(call);
    return call;
  }

  private mcpServer(): Server {
    const server = new Server(
      { name: 'test-tools', version: '1.0.0' },
      { capabilities: { tools: { listChanged: true } } },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: this.tools }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
      const { name } = request.params;
      const args = (request.params.arguments ?? {}) as Record<string, unknown>;
      const meta = (request.params._meta ?? {}) as Record<string, unknown>;
      this.calls.push({ name, arguments: args, meta, headers: {} });
      switch (name) {
        case 'echo':
          return {
            content: [{ type: 'text', text: `echo: ${String(args.text)} (meta ${JSON.stringify(meta)})` }],
          };
        case 'fail':
          return { content: [{ type: 'text', text: 'The order system is down.' }], isError: true };
        case 'slow':
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Number(args.ms));
            extra.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              resolve();
            });
          });
          return { content: [{ type: 'text', text: `slept ${String(args.ms)} ms` }] };
        default:
          if (this.tools.some((tool) => tool.name === name))
            return { content: [{ type: 'text', text: `${name}: ok` }] };
          return { content: [{ type: 'text', text: `Unknown tool ${name}` }], isError: true };
      }
    });
    return server;
  }
}
