// Standard Webhooks signing (https://www.standardwebhooks.com): `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`,
// keyed with the bytes a `whsec_<base64>` secret encodes. Every signed POST this service sends (task webhooks,
// cost alerts) uses it.
import { createHmac } from 'node:crypto';

export function webhookKey(secret: string): Buffer {
  return Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
}

export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', webhookKey(secret))
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${digest}`;
}

export function webhookHeaders(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signWebhook(secret, id, timestampSeconds, body),
  };
}
