/**
 * Which IP addresses a target may connect to. Used by the connector on every resolved address,
 * at connect time (see safe-connector.ts), so the decision is made on the address the socket
 * actually dials, not on a name.
 *
 * Without allowPrivate, only globally routable unicast is allowed. Metadata endpoints are refused
 * even with allowPrivate: no target needs them and they hand out cloud credentials.
 */
import net from 'node:net';

export type AddressVerdict =
  | { allowed: true }
  | {
      allowed: false;
      reason: 'metadata' | 'loopback' | 'private' | 'link_local' | 'unspecified' | 'multicast' | 'reserved' | 'invalid';
    };

type Blocked = Exclude<AddressVerdict, { allowed: true }>['reason'];

// [network, prefix length, reason]
const V4_RULES: Array<[string, number, Blocked]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'private'], // CGNAT
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link_local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'reserved'], // TEST-NET-1
  ['192.88.99.0', 24, 'reserved'], // 6to4 relay anycast
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'], // benchmarking
  ['198.51.100.0', 24, 'reserved'], // TEST-NET-2
  ['203.0.113.0', 24, 'reserved'], // TEST-NET-3
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'], // includes 255.255.255.255
];

const V4_METADATA = new Set(['169.254.169.254', '169.254.170.2', '100.100.100.200', '192.0.0.192']);
const V6_METADATA = new Set(['fd00:ec2:0:0:0:0:0:254']);

function v4ToInt(ip: string): number {
  const [a, b, c, d] = ip.split('.').map(Number);
  // Callers pass dotted quads only (net.isIP said 4, or built by embeddedV4): anything else is a bug.
  if (a === undefined || b === undefined || c === undefined || d === undefined) {
    throw new Error(`not a dotted IPv4 address: ${JSON.stringify(ip)}`);
  }
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function classifyV4(ip: string, allowPrivate: boolean): AddressVerdict {
  if (V4_METADATA.has(ip)) return { allowed: false, reason: 'metadata' };
  if (allowPrivate) return { allowed: true };
  const n = v4ToInt(ip);
  for (const [net0, len, reason] of V4_RULES) {
    const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
    if ((n & mask) >>> 0 === (v4ToInt(net0) & mask) >>> 0) return { allowed: false, reason };
  }
  return { allowed: true };
}

/** The address without its zone id (`fe80::1%eth0` → `fe80::1`). */
function withoutZone(ip: string): string {
  const pct = ip.indexOf('%');
  return pct === -1 ? ip : ip.slice(0, pct);
}

type V6Groups = [number, number, number, number, number, number, number, number];

function isEightGroups(g: number[]): g is V6Groups {
  return g.length === 8;
}

/** Expands a valid IPv6 literal (zone id stripped) to eight 16-bit groups. */
function v6Groups(ip: string): V6Groups | null {
  let s = withoutZone(ip).toLowerCase();
  // Trailing dotted IPv4 (e.g. ::ffff:1.2.3.4) becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s)?.[1];
  if (dotted !== undefined) {
    if (!net.isIPv4(dotted)) return null;
    const n = v4ToInt(dotted);
    s = s.slice(0, -dotted.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return null;
  const groups = [...head, ...Array<string>(fill).fill('0'), ...tail].map((g) => parseInt(g, 16));
  return isEightGroups(groups) && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

function embeddedV4(hi: number, lo: number): string {
  return `${hi >>> 8}.${hi & 0xff}.${lo >>> 8}.${lo & 0xff}`;
}

function classifyV6(ip: string, allowPrivate: boolean): AddressVerdict {
  const g = v6Groups(ip);
  if (!g) return { allowed: false, reason: 'invalid' };
  if (V6_METADATA.has(g.map((x) => x.toString(16)).join(':'))) return { allowed: false, reason: 'metadata' };
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d): judge the IPv4 inside, so
  // ::ffff:127.0.0.1 and ::ffff:169.254.169.254 are what they really are.
  if (zero(0, 5) && g[5] === 0xffff) return classifyV4(embeddedV4(g[6], g[7]), allowPrivate);
  // NAT64 well-known prefix 64:ff9b::/96 embeds the IPv4 destination.
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(2, 6)) return classifyV4(embeddedV4(g[6], g[7]), allowPrivate);
  if (zero(0, 6) && !(g[6] === 0 && g[7] <= 1)) return classifyV4(embeddedV4(g[6], g[7]), allowPrivate);
  // 6to4 2002:V4::/48 embeds an IPv4 address too.
  if (g[0] === 0x2002) {
    const inner = classifyV4(embeddedV4(g[1], g[2]), allowPrivate);
    if (!inner.allowed) return inner;
  }
  if (allowPrivate) return { allowed: true };
  if (zero(0, 8)) return { allowed: false, reason: 'unspecified' };
  if (zero(0, 7) && g[7] === 1) return { allowed: false, reason: 'loopback' };
  if ((g[0] & 0xfe00) === 0xfc00) return { allowed: false, reason: 'private' }; // ULA fc00::/7
  if ((g[0] & 0xffc0) === 0xfe80) return { allowed: false, reason: 'link_local' };
  if ((g[0] & 0xffc0) === 0xfec0) return { allowed: false, reason: 'private' }; // deprecated site-local
  if ((g[0] & 0xff00) === 0xff00) return { allowed: false, reason: 'multicast' };
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return { allowed: false, reason: 'private' }; // local-use NAT64
  if (g[0] === 0x100 && zero(1, 4)) return { allowed: false, reason: 'reserved' }; // discard-only
  if (g[0] === 0x2001 && g[1] === 0xdb8) return { allowed: false, reason: 'reserved' }; // documentation
  if (g[0] === 0x2001 && g[1] === 0) return { allowed: false, reason: 'reserved' }; // Teredo hides the real peer
  if (g[0] === 0x2001 && g[1] < 0x200 && g[1] !== 0) return { allowed: false, reason: 'reserved' }; // IETF protocol assignments (2001::/23)
  return { allowed: true };
}

/** Decides whether a socket may be opened to `ip`. Non-IP input is refused (fail closed). */
export function checkAddress(ip: string, allowPrivate: boolean): AddressVerdict {
  const kind = net.isIP(withoutZone(ip));
  // IPv4 has no zones: `169.254.169.254%eth0` (from a custom lookup) is not an address to judge by
  // its text, and judged as-is it would slip past the metadata set. Refused, never normalised.
  if (kind === 4 && ip.includes('%')) return { allowed: false, reason: 'invalid' };
  if (kind === 4) return classifyV4(ip, allowPrivate);
  if (kind === 6) return classifyV6(ip, allowPrivate);
  return { allowed: false, reason: 'invalid' };
}
