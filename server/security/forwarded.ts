/**
 * Who the client is and which origin it reached us at, when a reverse proxy stands in between. A proxy
 * rewrites `Host` (stock nginx sends the upstream's address) and hides the client's address, so the
 * same-origin check and the per-IP limits would judge the proxy instead of the browser. The fix is explicit
 * configuration, never guessing: a `publicUrl` names the origin outright; `trustProxy` lets the proxy's
 * `Forwarded` (RFC 7239) or `X-Forwarded-*` headers speak, and only then, because any client can send those
 * headers itself. Malformed or implausible forwarded values are ignored as a whole (the request is judged
 * on what the socket says), so a hostile header can only narrow who is let in, never widen it.
 */
import { SwitchyardError } from '../../src/errors.ts';
import { parsePublicUrl } from './origins.ts';

/**
 * `false` (default): ignore forwarding headers. `true` / `'x-forwarded'`: trust `X-Forwarded-For/-Proto/-Host`
 * (what nginx, Caddy and HAProxy set). `'forwarded'`: trust RFC 7239 `Forwarded` only. With `from`, only
 * requests whose socket peer is one of those addresses (the proxies) have their headers read.
 */
export type TrustProxy =
  | boolean
  | 'x-forwarded'
  | 'forwarded'
  | { readonly headers: 'x-forwarded' | 'forwarded'; readonly from: readonly string[] };

export interface ProxyOptions {
  /** Where browsers reach this server; its origin is the server's own origin for every request. */
  readonly publicUrl?: string | undefined;
  readonly trustProxy?: TrustProxy | undefined;
}

/** One request as the client sees it: its address and the origin it reached this server at. */
export interface RequestView {
  readonly ip: string;
  readonly origin: string;
  /** Where `origin` came from, for logs and error messages. */
  readonly source: 'public-url' | 'forwarded' | 'x-forwarded' | 'host';
}

export type RequestViewer = (request: Request, peerIp: string) => RequestView;

const MAX_HEADER = 1024;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;
const IPV6 = /^[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%[\w.-]+)?$|^[0-9a-f:]*:(?:\d{1,3}\.){3}\d{1,3}$/i;
const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i;

/** An IP literal as sockets report it: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes the IPv4 address. */
export function normalizeIp(value: string): string | null {
  const v = value.trim().toLowerCase();
  const mapped = /^::ffff:((?:\d{1,3}\.){3}\d{1,3})$/.exec(v)?.[1];
  if (mapped && IPV4.test(mapped)) return mapped;
  if (IPV4.test(v)) return v;
  if (IPV6.test(v) && !v.includes(':::') && (v.match(/::/g) ?? []).length <= 1) return v;
  return null;
}

/** A forwarded node (`for=`): an IP with an optional port, IPv6 in brackets; anything else is not usable. */
function nodeIp(value: string): string | null {
  const v = value.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(v)?.[1];
  if (bracketed) return normalizeIp(bracketed);
  const v4 = /^((?:\d{1,3}\.){3}\d{1,3})(?::\d{1,5})?$/.exec(v)?.[1];
  if (v4) return normalizeIp(v4);
  return normalizeIp(v); // bare IPv6, as X-Forwarded-For carries it
}

function validHost(value: string): boolean {
  if (value.length > 255) return false;
  const match = HOST.exec(value);
  if (!match) return false;
  return match[1] === undefined || Number(match[1]) <= 65535;
}

export type ForwardedElement = Readonly<Record<string, string>>;

/**
 * Parses an RFC 7239 `Forwarded` header into its elements (one per proxy hop, in order). Returns null for
 * anything that does not follow the grammar: unbalanced quotes, a pair without `=`, a repeated parameter,
 * characters outside a token. Parameter names are lower-cased; values keep their case.
 */
export function parseForwarded(header: string): ForwardedElement[] | null {
  if (header.length > MAX_HEADER) return null;
  const elements: ForwardedElement[] = [];
  let current: Record<string, string> = {};
  let i = 0;
  const tchar = /[!#$%&'*+\-.^_`|~0-9a-z]/i;
  const skipSpace = () => {
    while (header[i] === ' ' || header[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    if (header[i] === ';' || header[i] === ',' || i >= header.length) {
      // Empty pair: allowed by the grammar (`for=a;;proto=b`); an empty element is not useful but harmless.
    } else {
      let name = '';
      while (i < header.length && tchar.test(header[i]!)) name += header[i++];
      if (name === '' || header[i] !== '=') return null;
      i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        for (;;) {
          if (i >= header.length) return null;
          const ch = header[i++]!;
          if (ch === '"') break;
          if (ch === '\\') {
            if (i >= header.length) return null;
            value += header[i++];
          } else value += ch;
        }
      } else {
        while (i < header.length && tchar.test(header[i]!)) value += header[i++];
        if (value === '') return null;
      }
      const key = name.toLowerCase();
      if (key in current) return null;
      current[key] = value;
      skipSpace();
    }
    if (i >= header.length) {
      elements.push(current);
      return elements;
    }
    const separator = header[i++];
    if (separator === ',') {
      elements.push(current);
      current = {};
    } else if (separator !== ';') return null;
  }
}

/** The last value of a comma-separated header: the one the nearest proxy (the trusted one) added. */
function lastListValue(header: string | null): string | undefined {
  if (header === null || header.length > MAX_HEADER) return undefined;
  return header.split(',').at(-1)?.trim() || undefined;
}

interface Forwarding {
  readonly proto?: string;
  readonly host?: string;
  readonly ip?: string;
}

/** What the trusted proxy says, or null when its headers are malformed (then nothing of it is used). */
function readForwarding(headers: Headers, kind: 'x-forwarded' | 'forwarded'): Forwarding | null {
  let proto: string | undefined;
  let host: string | undefined;
  let forIp: string | undefined;
  if (kind === 'forwarded') {
    const header = headers.get('forwarded');
    if (header === null) return {};
    const last = parseForwarded(header)?.at(-1);
    if (!last) return null;
    proto = last.proto;
    host = last.host;
    forIp = last.for;
  } else {
    proto = lastListValue(headers.get('x-forwarded-proto'));
    host = lastListValue(headers.get('x-forwarded-host'));
    forIp = lastListValue(headers.get('x-forwarded-for'));
  }
  if (proto !== undefined) {
    proto = proto.toLowerCase();
    if (proto !== 'http' && proto !== 'https') return null;
  }
  if (host !== undefined && !validHost(host)) return null;
  let ip: string | undefined;
  if (forIp !== undefined && forIp.toLowerCase() !== 'unknown' && !forIp.startsWith('_')) {
    const parsed = nodeIp(forIp);
    if (parsed === null) return null;
    ip = parsed;
  }
  return {
    ...(proto ? { proto } : {}),
    ...(host ? { host: host.toLowerCase() } : {}),
    ...(ip ? { ip } : {}),
  };
}

interface Trust {
  readonly headers: 'x-forwarded' | 'forwarded';
  readonly from: ReadonlySet<string> | null;
}

/** Validates a `trustProxy` setting; a typo is an error at start-up, not a silent "trust nobody". */
export function normalizeTrustProxy(value: TrustProxy | undefined): Trust | null {
  if (value === undefined || value === false) return null;
  if (value === true || value === 'x-forwarded') return { headers: 'x-forwarded', from: null };
  if (value === 'forwarded') return { headers: 'forwarded', from: null };
  if (typeof value === 'object' && (value.headers === 'x-forwarded' || value.headers === 'forwarded')) {
    const from = new Set<string>();
    for (const address of value.from) {
      const ip = normalizeIp(address);
      if (ip === null) {
        throw new SwitchyardError(
          'ERR_INVALID_OPTION',
          `trustProxy.from: ${JSON.stringify(address)} is not an IP address (list the proxies' addresses)`,
        );
      }
      from.add(ip);
    }
    if (from.size === 0) {
      throw new SwitchyardError('ERR_INVALID_OPTION', 'trustProxy.from: list at least one proxy address');
    }
    return { headers: value.headers, from };
  }
  throw new SwitchyardError(
    'ERR_INVALID_OPTION',
    `trustProxy: expected false, true, "x-forwarded", "forwarded" or { headers, from }, got ${JSON.stringify(value)}`,
  );
}

/**
 * Builds the function that tells, for each request, the client's address and the origin it reached this
 * server at. Options are validated here, once.
 */
export function createRequestViewer(options: ProxyOptions = {}): RequestViewer {
  const publicOrigin = options.publicUrl === undefined ? undefined : parsePublicUrl(options.publicUrl).origin;
  const trust = normalizeTrustProxy(options.trustProxy);
  return (request, peerIp) => {
    const peer = normalizeIp(peerIp) ?? peerIp;
    const url = new URL(request.url);
    const trusted = trust !== null && (trust.from === null || trust.from.has(peer));
    const forwarding = trusted ? readForwarding(request.headers, trust.headers) : null;
    const ip = forwarding?.ip ?? peer;
    if (publicOrigin !== undefined) return { ip, origin: publicOrigin, source: 'public-url' };
    if (forwarding && (forwarding.proto || forwarding.host)) {
      const origin = new URL(
        `${forwarding.proto ?? url.protocol.slice(0, -1)}://${forwarding.host ?? url.host}`,
      ).origin;
      return { ip, origin, source: trust!.headers };
    }
    return { ip, origin: url.origin, source: 'host' };
  };
}
