/**
 * Parsing of the deployment settings that say who the server is and who may talk to it: the origin
 * allow-list and the public URL. They come from code or from environment variables typed by a person, so a
 * typo must fail loudly at start-up with what was expected: an entry that silently never matches would lock
 * users out, and one that is read too loosely (a path, a wildcard) would let the wrong pages in.
 */
import { SwitchyardError } from '../../src/errors.ts';

const invalid = (message: string): never => {
  throw new SwitchyardError('ERR_INVALID_OPTION', message);
};

const show = (value: string): string =>
  JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}...` : value);

/**
 * One origin, normalized as browsers send it in `Origin` (lower-case host, default port dropped). Accepts a
 * trailing `/`; refuses anything with a path, query, fragment, credentials, a non-http(s) scheme or a
 * wildcard, because none of those can ever equal an `Origin` header.
 */
export function parseOrigin(value: string, what = 'origin'): string {
  const text = value.trim();
  if (text.includes('*')) {
    invalid(
      `${what} ${show(value)}: wildcards are not supported (list each origin, or use "*" alone to allow any)`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return invalid(
      `${what} ${show(value)} is not an origin: expected scheme://host[:port], e.g. https://app.example.com`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    invalid(`${what} ${show(value)}: the scheme must be http or https`);
  }
  if (!/^https?:\/\/[^/?#]/i.test(text)) {
    invalid(
      `${what} ${show(value)} is not an origin: expected scheme://host[:port], e.g. https://app.example.com`,
    );
  }
  if (url.username || url.password) invalid(`${what} ${show(value)}: credentials are not part of an origin`);
  if (url.pathname !== '/' || url.search || url.hash || /[?#]/.test(text)) {
    invalid(`${what} ${show(value)}: an origin has no path, query or fragment (did you mean ${url.origin}?)`);
  }
  return url.origin;
}

/**
 * The allow-list, from an array or from a comma/space-separated string (`ALLOWED_ORIGINS`). `*` alone allows
 * any origin; `*` mixed with other entries is refused as a likely mistake.
 */
export function parseAllowedOrigins(input: string | readonly string[]): string[] {
  const entries = (typeof input === 'string' ? input.split(/[\s,]+/) : [...input])
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.includes('*')) {
    if (entries.length > 1)
      invalid('allowed origins: "*" allows every origin; it cannot be combined with others');
    return ['*'];
  }
  return [...new Set(entries.map((entry) => parseOrigin(entry, 'allowed origin')))];
}

/**
 * Where browsers reach this server: an absolute http(s) URL, optionally with a path prefix the proxy strips
 * (`https://example.com/realtime`). Returned with a trailing slash so that relative paths resolve under it.
 */
export function parsePublicUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return invalid(`public URL ${show(value)} is not an absolute URL (e.g. https://example.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    invalid(`public URL ${show(value)}: the scheme must be http or https`);
  }
  if (url.username || url.password || url.search || url.hash) {
    invalid(`public URL ${show(value)}: no credentials, query or fragment`);
  }
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  return url;
}
