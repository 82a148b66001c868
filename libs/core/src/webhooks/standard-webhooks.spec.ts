import { signWebhook, webhookHeaders } from './standard-webhooks';

describe('webhook signatures (Standard Webhooks)', () => {
  // The Standard Webhooks specification's own example.
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

  it('signs "<id>.<timestamp>.<body>" with HMAC-SHA256 keyed by the base64-decoded secret', () => {
    expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('sends the three headers, the timestamp in unix seconds', () => {
    expect(webhookHeaders(secret, 'msg_1', 1700000000, '{}')).toEqual({
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': signWebhook(secret, 'msg_1', 1700000000, '{}'),
    });
  });

  it('changes with any byte of the body, the id or the timestamp', () => {
    const base = signWebhook(secret, 'msg_1', 1700000000, '{"a":1}');
    expect(signWebhook(secret, 'msg_1', 1700000000, '{"a":2}')).not.toBe(base);
    expect(signWebhook(secret, 'msg_2', 1700000000, '{"a":1}')).not.toBe(base);
    expect(signWebhook(secret, 'msg_1', 1700000001, '{"a":1}')).not.toBe(base);
  });
});
