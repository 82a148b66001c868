// The SSRF guard of every outbound call (task webhooks, cost alerts, MCP servers): a tenant must not make the
// service call into its own network. Checked when a URL is accepted (400) and again at every call, which then
// connects to the address it checked. OUTBOUND_ALLOWED_HOSTS is its one allow-list.
import { Injectable } from '@nestjs/common';
import { promises as dns } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { AppConfig, ValidationError } from '@lib/core';

interface Range {
  subnet: string;
  prefix: number;
  reason: string;
}

// Order matters: the first range that holds an address names why it is refused.
const V4_RANGES: Range[] = [
  { subnet: '169.254.169.254', prefix: 32, reason: 'a cloud metadata address' },
  { subnet: '0.0.0.0', prefix: 8, reason: 'an unspecified address' },
  { subnet: '127.0.0.0', prefix: 8, reason: 'a loopback address' },
  { subnet: '10.0.0.0', prefix: 8, reason: 'a private address' },
  { subnet: '172.16.0.0', prefix: 12, reason: 'a private address' },
  { subnet: '192.168.0.0', prefix: 16, reason: 'a private address' },
  { subnet: '100.64.0.0', prefix: 10, reason: 'a shared (carrier-grade NAT) address' },
  { subnet: '169.254.0.0', prefix: 16, reason: 'a link-local address' },
  { subnet: '192.0.0.0', prefix: 24, reason: 'a reserved address' },
  { subnet: '192.0.2.0', prefix: 24, reason: 'a reserved address' },
  { subnet: '198.18.0.0', prefix: 15, reason: 'a reserved address' },
  { subnet: '198.51.100.0', prefix: 24, reason: 'a reserved address' },
  { subnet: '203.0.113.0', prefix: 24, reason: 'a reserved address' },
  { subnet: '224.0.0.0', prefix: 4, reason: 'a multicast address' },
  { subnet: '240.0.0.0', prefix: 4, reason: 'a reserved address' },
];

const V6_RANGES: Range[] = [
  { subnet: 'fd00:ec2::254', prefix: 128, reason: 'a cloud metadata address' },
  { subnet: '::', prefix: 128, reason: 'an unspecified address' },
  { subnet: '::1', prefix: 128, reason: 'a loopback address' },
  { subnet: 'fc00::', prefix: 7, reason: 'a private (unique local) address' },
  { subnet: 'fe80::', prefix: 10, reason: 'a link-local address' },
  { subnet: 'fec0::', prefix: 10, reason: 'a site-local address' },
  { subnet: 'ff00::', prefix: 8, reason: 'a multicast address' },
  { subnet: '100::', prefix: 64, reason: 'a reserved address' },
  { subnet: '2001:db8::', prefix: 32, reason: 'a reserved address' },
];

const RANGES = [
  ...V4_RANGES.map((range) => ({ ...range, family: 'ipv4' as const })),
  ...V6_RANGES.map((range) => ({ ...range, family: 'ipv6' as const })),
].map((range) => {
  const list = new BlockList();
  list.addSubnet(range.subnet, range.prefix, range.family);
  return { ...range, list };
});

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail allowed), or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  let text = address.toLowerCase();
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const octets = tail.slice(1).map(Number);
    if (octets.some((octet) => octet > 255)) return null;
    const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
    text = `${text.slice(0, tail.index)}${hex(octets[0], octets[1])}:${hex(octets[2], octets[3])}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) => (part ? part.split(':') : []);
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...rest];
  if (groups.some((group) => !/^[0-9a-f]{1,4}$/.test(group))) return null;
  return groups.map((group) => parseInt(group, 16));
}

const dotted = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join('.');

/**
 * The IPv4 addresses a local-use NAT64 address (RFC 6052) may embed: the operator picks the prefix length, so
 * every layout is a candidate whose u octet (bits 64–71) and suffix after the IPv4 are zero, and /96 always is.
 */
function nat64Ipv4s(groups: number[]): string[] {
  const bytes = groups.flatMap((group) => [group >> 8, group & 255]);
  const candidates: string[] = [];
  for (const prefixBytes of [6, 7, 8]) {
    const payload = [...bytes.slice(prefixBytes, 8), ...bytes.slice(9)];
    const suffix = payload.slice(4);
    if (bytes[8] === 0 && suffix.every((byte) => byte === 0)) candidates.push(payload.slice(0, 4).join('.'));
  }
  candidates.push(bytes.slice(12).join('.'));
  return candidates;
}

/**
 * The IPv4 addresses an IPv6 address reaches through a transition mechanism, which a NAT64, SIIT or 6to4
 * gateway on the path would connect to: IPv4-mapped (`::ffff:0:0/96`), IPv4-translated (`::ffff:0:0:0/96`),
 * IPv4-compatible (`::/96`), the NAT64 well-known prefix (`64:ff9b::/96`), the local-use NAT64 prefix
 * (`64:ff9b:1::/48`, whose operator picks the prefix length: every RFC 6052 position is returned) and 6to4
 * (`2002::/16`). Empty for any other address.
 */
function embeddedIpv4s(address: string): string[] {
  const g = ipv6Groups(address);
  if (!g) return [];
  const zeroes = (from: number, to: number) => g.slice(from, to).every((group) => group === 0);
  if (zeroes(0, 5) && g[5] === 0xffff) return [dotted(g[6], g[7])];
  if (zeroes(0, 4) && g[4] === 0xffff && g[5] === 0) return [dotted(g[6], g[7])];
  // `::` and `::1` are IPv6's own unspecified and loopback addresses, classified as such below.
  if (zeroes(0, 6) && !(g[6] === 0 && g[7] <= 1)) return [dotted(g[6], g[7])];
  if (g[0] === 0x64 && g[1] === 0xff9b && zeroes(2, 6)) return [dotted(g[6], g[7])];
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) {
    return nat64Ipv4s(g);
  }
  if (g[0] === 0x2002) return [dotted(g[1], g[2])];
  return [];
}

/** Why an IP address may not be a webhook target, or null for a public unicast address. */
export function refusedAddressReason(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    for (const v4 of embeddedIpv4s(address)) {
      const reason = refusedAddressReason(v4);
      if (reason) return `${reason} (IPv4 ${v4} inside IPv6)`;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const range of RANGES) {
    if (range.family === type && range.list.check(address, type)) return range.reason;
  }
  return null;
}

export interface ResolvedTarget {
  url: URL;
  /** The address the delivery connects to: the one that was checked. */
  address: string;
  family: 4 | 6;
}

/** A definite refusal (the URL, or an address its host resolves to, may not be called): retrying cannot help. */
export class OutboundTargetRefused extends Error {
  override name = 'OutboundTargetRefused';
}

/** The host could not be resolved now (a resolver failure, no answer): a later attempt may succeed. */
export class OutboundHostUnresolved extends Error {
  override name = 'OutboundHostUnresolved';
}

export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

const systemLookup: Lookup = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

@Injectable()
export class OutboundUrlPolicy {
  private lookup: Lookup = systemLookup;

  constructor(private readonly config: AppConfig) {}

  /** For tests of name resolution (e.g. DNS rebinding): another resolver; `undefined` restores the system's. */
  useLookup(lookup: Lookup | undefined): void {
    this.lookup = lookup ?? systemLookup;
  }

  /** Refuses (400, naming `field`) a URL a client gave that this service must not call, or cannot resolve now. */
  async assertAcceptable(raw: string, field = 'webhook_url'): Promise<void> {
    try {
      await this.resolve(raw);
    } catch (error) {
      if (!(error instanceof OutboundTargetRefused || error instanceof OutboundHostUnresolved)) throw error;
      throw new ValidationError(`The ${field} is refused: ${error.message}`, [
        { field, message: error.message },
      ]);
    }
  }

  /**
   * Resolves the URL's host and checks every address it has; an allow-listed host skips the address check.
   * Throws OutboundTargetRefused (never callable) or OutboundHostUnresolved (try again later), each with a
   * sentence saying why.
   */
  async resolve(raw: string): Promise<ResolvedTarget> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new OutboundTargetRefused('it is not a valid URL.');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new OutboundTargetRefused('only http and https URLs are allowed.');
    }
    if (url.username || url.password) {
      throw new OutboundTargetRefused('the URL must not carry credentials.');
    }
    const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    const allowed = this.config.outboundAllowedHosts.includes(host);
    let addresses: Array<{ address: string; family: number }>;
    if (isIP(host)) {
      addresses = [{ address: host, family: isIP(host) }];
    } else {
      try {
        addresses = await this.lookup(host);
      } catch (error) {
        const code = (error as { code?: string }).code;
        throw new OutboundHostUnresolved(
          `its host "${host}" could not be resolved${code ? ` (${code})` : ''}.`,
        );
      }
      if (!addresses.length) throw new OutboundHostUnresolved(`its host "${host}" has no address.`);
    }
    if (!allowed) {
      for (const { address } of addresses) {
        const reason = refusedAddressReason(address);
        if (reason) {
          throw new OutboundTargetRefused(
            `its host "${host}" resolves to ${address}, ${reason}; add the host to OUTBOUND_ALLOWED_HOSTS to allow it.`,
          );
        }
      }
    }
    const [first] = addresses;
    return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
  }
}
