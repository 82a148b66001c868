// Cost anomalies: a conversation past a multiple of its agent's median, or an absolute threshold, raises a
// warning, a metric and a signed alert POST — once per conversation and threshold.
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { Metrics } from '@lib/core';
import { FakeAnthropic } from './support/fake-anthropic';
import { startTestApp, TestApp } from './support/app';
import { waitUntil } from './support/tasks';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

describe('cost anomaly alerts', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  let fake: FakeAnthropic;
  let receiver: Server;
  let received: Received[];
  let alertUrl: string;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    fake = await FakeAnthropic.start();
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    alertUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
  });
  beforeEach(() => {
    received = [];
  });
  afterEach(async () => {
    fake.reset();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    receiver.close();
    await fake.stop();
  });

  const start = async (env: Record<string, string>) => {
    const t = await startTestApp({
      ANTHROPIC_API_KEY: `sk-ant-anomaly-${randomUUID()}`,
      ANTHROPIC_BASE_URL: fake.url,
      LLM_MAX_RETRIES: '0',
      WEBHOOK_SECRET: secret,
      ALERT_WEBHOOK_URL: alertUrl,
      // Alerts pass the same SSRF guard as task webhooks: the loopback receiver must be allowed.
      OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
      ...env,
    });
    apps.push(t);
    return t;
  };

  /** A turn costing (input × 3 + output × 15) per million USD at claude-sonnet-4-6 prices. */
  const turn = (
    t: TestApp,
    usage: { input_tokens: number; output_tokens: number },
    conversationId?: string,
  ) => {
    fake.enqueue({ text: 'Answer.', usage });
    return t.request('POST', '/v1/chat', {
      json: { message: 'A question', ...(conversationId ? { conversation_id: conversationId } : {}) },
    });
  };

  const anomalies = (t: TestApp) =>
    t.app.get(Metrics).registry.getSingleMetric('cost_anomalies_total')?.get() ?? Promise.resolve(undefined);

  it("alerts once when a conversation passes a multiple of its agent's recent median", async () => {
    const t = await start({ ANOMALY_COST_MULTIPLE: '5', ANOMALY_MIN_BASELINE: '3' });
    // Three ordinary conversations of 0.00045 USD each: the median.
    for (let i = 0; i < 3; i += 1)
      expect((await turn(t, { input_tokens: 100, output_tokens: 10 })).status).toBe(200);
    expect(received).toHaveLength(0);

    // A runaway one: 0.0045 USD, ten times the median, past 5×.
    const runaway = await turn(t, { input_tokens: 1_000, output_tokens: 100 });
    const id = runaway.body.conversation_id;
    await waitUntil(
      async () => received.length,
      (n) => n >= 1,
      5_000,
      'the alert',
    );
    const [alert] = received;
    // Signed the Standard Webhooks way, like task webhooks: the library verifies it.
    const payload = new Webhook(secret).verify(alert.body, {
      'webhook-id': String(alert.headers['webhook-id']),
      'webhook-timestamp': String(alert.headers['webhook-timestamp']),
      'webhook-signature': String(alert.headers['webhook-signature']),
    });
    expect(payload).toEqual({
      event: 'cost.anomaly',
      anomaly: {
        id: alert.headers['webhook-id'],
        tenant_id: t.tenantId,
        conversation_id: id,
        agent_name: 'support',
        threshold: 'multiple',
        cost_usd: 0.0045,
        limit_usd: 0.00225,
        baseline_median_usd: 0.00045,
        multiple: 5,
      },
    });

    // More turns on the same conversation: still anomalous, never alerted again.
    await turn(t, { input_tokens: 1_000, output_tokens: 100 }, id);
    await turn(t, { input_tokens: 1_000, output_tokens: 100 }, id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toHaveLength(1);
    expect((await anomalies(t))?.values).toEqual([
      expect.objectContaining({ labels: { threshold: 'multiple', agent: 'support' }, value: 1 }),
    ]);
  });

  it('alerts once per conversation when it passes ANOMALY_COST_USD, whatever the median', async () => {
    const t = await start({ ANOMALY_COST_MULTIPLE: '0', ANOMALY_COST_USD: '0.005' });
    const first = await turn(t, { input_tokens: 1_000, output_tokens: 100 });
    const id = first.body.conversation_id;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toHaveLength(0);
    await turn(t, { input_tokens: 1_000, output_tokens: 100 }, id);
    await waitUntil(
      async () => received.length,
      (n) => n >= 1,
      5_000,
      'the alert',
    );
    expect(JSON.parse(received[0].body).anomaly).toMatchObject({
      conversation_id: id,
      threshold: 'absolute',
      cost_usd: 0.009,
      limit_usd: 0.005,
      baseline_median_usd: null,
    });
    await turn(t, { input_tokens: 1_000, output_tokens: 100 }, id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toHaveLength(1);
  });

  it('does not judge an agent by a multiple before it has ANOMALY_MIN_BASELINE conversations', async () => {
    const t = await start({ ANOMALY_COST_MULTIPLE: '2', ANOMALY_MIN_BASELINE: '5' });
    await turn(t, { input_tokens: 100, output_tokens: 10 });
    await turn(t, { input_tokens: 10_000, output_tokens: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toHaveLength(0);
  });
});
