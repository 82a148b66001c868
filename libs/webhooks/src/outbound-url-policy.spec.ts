import { AppConfig, ValidationError } from '@lib/core';
import {
  OutboundHostUnresolved,
  OutboundTargetRefused,
  OutboundUrlPolicy,
  refusedAddressReason,
} from './outbound-url-policy';

describe('refusedAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.100.100.200', 'carrier-grade NAT'],
    ['169.254.169.254', 'cloud metadata'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['240.0.0.1', 'reserved'],
    // IPv6 transition forms that a NAT64, SIIT or 6to4 gateway would turn into an internal IPv4 address.
    ['::127.0.0.1', 'loopback'],
    ['::7f00:1', 'loopback'],
    ['::10.1.2.3', 'private'],
    ['::ffff:0:127.0.0.1', 'loopback'],
    ['::ffff:0:7f00:1', 'loopback'],
    ['::ffff:0:169.254.169.254', 'cloud metadata'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b:1::7f00:1', 'loopback'],
    ['64:ff9b:1::10.0.0.1', 'private'],
    ['64:ff9b:1:7f00:0:100::', 'loopback'],
    ['64:ff9b:1:a9:fe:a9fe::', 'cloud metadata'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:a00:1::1', 'private'],
    ['2002:c0a8:101:1::5', 'private'],
    ['2002:a9fe:a9fe::', 'cloud metadata'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(refusedAddressReason(address)).toContain(reason);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '::8.8.8.8',
    '::ffff:0:8.8.8.8',
    '64:ff9b::808:808',
    '64:ff9b:1::808:808',
    '2002:808:808::1',
  ])('accepts the public address %s', (address) => {
    expect(refusedAddressReason(address)).toBeNull();
  });
});

describe('refusedAddressReason on hosts as URL parsing normalises them', () => {
  it.each([
    '[::127.0.0.1]',
    '[::ffff:0:127.0.0.1]',
    '[64:ff9b:1::7f00:1]',
    '[2002:7f00:1::]',
    '[::ffff:127.0.0.1]',
  ])('refuses http://%s/', (host) => {
    const hostname = new URL(`http://${host}/`).hostname.replace(/^\[(.*)\]$/, '$1');
    expect(refusedAddressReason(hostname)).toContain('loopback');
  });

  it('refuses a webhook_url naming a transition form of an internal address, or a host resolving to one', async () => {
    const policy = new OutboundUrlPolicy(Object.assign(new AppConfig(), { outboundAllowedHosts: [] }));
    policy.useLookup(async () => [{ address: '64:ff9b::a9fe:a9fe', family: 6 }]);
    await expect(policy.resolve('http://[::ffff:0:127.0.0.1]:8080/hook')).rejects.toThrow(/loopback/);
    await expect(policy.resolve('https://nat64.example.com/hook')).rejects.toThrow(/cloud metadata/);
  });

  it('keeps IPv6 loopback and unspecified named as such, not as IPv4-compatible addresses', () => {
    expect(refusedAddressReason('::1')).toBe('a loopback address');
    expect(refusedAddressReason('::')).toBe('an unspecified address');
  });
});

describe('OutboundUrlPolicy', () => {
  const policyWith = (allowed: string[], answers: Record<string, string[]>) => {
    const policy = new OutboundUrlPolicy(Object.assign(new AppConfig(), { outboundAllowedHosts: allowed }));
    policy.useLookup(async (host) => {
      const addresses = answers[host];
      if (!addresses) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    });
    return policy;
  };

  it('resolves a public host to the address the delivery will connect to', async () => {
    const policy = policyWith([], { 'hooks.example.com': ['93.184.216.34'] });
    await expect(policy.resolve('https://hooks.example.com/x')).resolves.toMatchObject({
      address: '93.184.216.34',
      family: 4,
    });
  });

  it('refuses a host when any of its addresses is internal', async () => {
    const policy = policyWith([], { 'mixed.example.com': ['93.184.216.34', '10.0.0.7'] });
    await expect(policy.resolve('https://mixed.example.com/x')).rejects.toThrow(
      /resolves to 10\.0\.0\.7, a private address/,
    );
  });

  it('lets the allow-list name a host, and only that host', async () => {
    const policy = policyWith(['hooks.internal'], {
      'hooks.internal': ['10.0.0.8'],
      'other.internal': ['10.0.0.9'],
    });
    await expect(policy.resolve('http://hooks.internal:8080/x')).resolves.toMatchObject({
      address: '10.0.0.8',
    });
    await expect(policy.resolve('http://other.internal/x')).rejects.toBeInstanceOf(OutboundTargetRefused);
  });

  it('refuses other schemes, credentials and internal addresses for good', async () => {
    const policy = policyWith([], { 'internal.example.com': ['127.0.0.1'] });
    await expect(policy.resolve('file:///etc/passwd')).rejects.toThrow(/only http and https/);
    await expect(policy.resolve('https://u:p@93.184.216.34/')).rejects.toThrow(/credentials/);
    await expect(policy.resolve('https://internal.example.com/')).rejects.toBeInstanceOf(
      OutboundTargetRefused,
    );
  });

  it('tells a resolver failure (worth another attempt) from a refusal', async () => {
    const policy = policyWith([], { 'empty.example.com': [] });
    const unresolved = policy.resolve('https://nowhere.invalid/');
    await expect(unresolved).rejects.toBeInstanceOf(OutboundHostUnresolved);
    await expect(unresolved).rejects.toThrow(/could not be resolved \(ENOTFOUND\)/);
    await expect(policy.resolve('https://empty.example.com/')).rejects.toBeInstanceOf(OutboundHostUnresolved);
  });

  it('refuses an unresolvable host at creation too, with a 400 naming the field', async () => {
    const policy = policyWith([], {});
    await expect(policy.assertAcceptable('https://nowhere.invalid/', 'url')).rejects.toMatchObject({
      details: [{ field: 'url', message: expect.stringMatching(/could not be resolved/) }],
    });
  });

  it('answers a refusal at creation as a 400 naming webhook_url', async () => {
    const policy = policyWith([], {});
    const refusal = policy.assertAcceptable('http://169.254.169.254/latest/meta-data/');
    await expect(refusal).rejects.toBeInstanceOf(ValidationError);
    await expect(refusal).rejects.toMatchObject({
      details: [{ field: 'webhook_url', message: expect.stringContaining('cloud metadata') }],
    });
  });
});
