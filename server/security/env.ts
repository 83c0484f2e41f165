/**
 * The deployment settings a server reads from its environment (`npm start`, the Deno binding, containers):
 * who may connect and where the server is reached. One parser for Node and Deno (the caller passes its
 * runtime's getter). A malformed value stops the server at start-up with the variable's name in the error.
 *
 *   ALLOWED_ORIGINS   origins allowed besides the server's own: "https://a.example, https://b.example", or "*"
 *   PUBLIC_URL        where browsers reach the server behind a proxy: "https://example.com[/prefix]"
 *   TRUST_PROXY       "false" (default), "true" / "x-forwarded" (X-Forwarded-*), or "forwarded" (RFC 7239)
 *   TRUSTED_PROXIES   with TRUST_PROXY: only these peer addresses may set those headers ("127.0.0.1, ::1")
 */
import { SwitchyardError } from '../../src/errors.ts';
import { normalizeTrustProxy, type TrustProxy } from './forwarded.ts';
import { parseAllowedOrigins, parsePublicUrl } from './origins.ts';

export interface DeploymentSettings {
  readonly allowedOrigins?: string[];
  readonly publicUrl?: string;
  readonly trustProxy?: TrustProxy;
}

/** Runs a parser and prefixes its error with the variable it read. */
function fromVariable<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const message = (error as Error).message;
    throw new SwitchyardError('ERR_INVALID_OPTION', `${name}: ${message}`, { cause: error });
  }
}

export function deploymentFromEnv(get: (name: string) => string | undefined): DeploymentSettings {
  const value = (name: string): string | undefined => {
    const v = get(name)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const origins = value('ALLOWED_ORIGINS');
  const publicUrl = value('PUBLIC_URL');
  const trust = value('TRUST_PROXY');
  const proxies = value('TRUSTED_PROXIES');

  let trustProxy: TrustProxy | undefined;
  if (trust !== undefined) {
    trustProxy = fromVariable('TRUST_PROXY', (): TrustProxy => {
      const t = trust.toLowerCase();
      if (t === 'false' || t === '0' || t === 'no') return false;
      if (t === 'true' || t === '1' || t === 'yes' || t === 'x-forwarded') return 'x-forwarded';
      if (t === 'forwarded') return 'forwarded';
      throw new Error(
        `expected false, true, x-forwarded or forwarded, got ${JSON.stringify(trust.slice(0, 40))}`,
      );
    });
  }
  if (proxies !== undefined) {
    if (!trustProxy)
      throw new SwitchyardError('ERR_INVALID_OPTION', 'TRUSTED_PROXIES is set but TRUST_PROXY is not');
    const from = proxies.split(/[\s,]+/).filter((p) => p !== '');
    trustProxy = { headers: trustProxy === 'forwarded' ? 'forwarded' : 'x-forwarded', from };
  }
  if (trustProxy !== undefined) fromVariable('TRUSTED_PROXIES', () => normalizeTrustProxy(trustProxy));

  return {
    ...(origins !== undefined
      ? { allowedOrigins: fromVariable('ALLOWED_ORIGINS', () => parseAllowedOrigins(origins)) }
      : {}),
    ...(publicUrl !== undefined
      ? { publicUrl: fromVariable('PUBLIC_URL', () => parsePublicUrl(publicUrl).href) }
      : {}),
    ...(trustProxy !== undefined ? { trustProxy } : {}),
  };
}
