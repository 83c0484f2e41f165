/**
 * Deployment settings and proxy headers, as units: origin lists and public URLs typed by people (typos fail
 * at start-up with what was expected), RFC 7239 `Forwarded` parsing, and which origin / address a request is
 * judged by. The same behaviour against a real server is in test/security/proxy.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../test/expect-error.ts';
import { deploymentFromEnv } from './env.ts';
import { createRequestViewer, normalizeTrustProxy, parseForwarded, type TrustProxy } from './forwarded.ts';
import { parseAllowedOrigins, parseOrigin, parsePublicUrl } from './origins.ts';

const invalidOption = (run: () => unknown) => errorMessage('ERR_INVALID_OPTION', run);

describe('origins', () => {
  it('normalizes an origin the way browsers send it', () => {
    expect(parseOrigin('https://App.Example.com:443/')).toBe('https://app.example.com');
    expect(parseOrigin(' http://127.0.0.1:8080 ')).toBe('http://127.0.0.1:8080');
    expect(parseOrigin('http://[::1]:3000')).toBe('http://[::1]:3000');
  });

  it.each([
    ['https//example.com', /not an origin/],
    ['example.com', /not an origin/],
    ['https:example.com', /not an origin/],
    ['https://example.com/app', /no path.*did you mean https:\/\/example\.com/],
    ['https://example.com?x=1', /no path, query/],
    ['https://*.example.com', /wildcards are not supported/],
    ['ftp://example.com', /scheme must be http or https/],
    ['https://user:pw@example.com', /credentials/],
    ['', /not an origin/],
  ])('refuses %j', (value, message) => {
    expect(invalidOption(() => parseOrigin(value))).toMatch(message);
  });

  it('reads a list from a comma or space separated string, deduplicated', () => {
    expect(parseAllowedOrigins('https://a.example, https://b.example  https://a.example/')).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
    expect(parseAllowedOrigins(' , ')).toEqual([]);
    expect(parseAllowedOrigins(['*'])).toEqual(['*']);
  });

  it('refuses a list where one entry has a typo, naming that entry', () => {
    expect(invalidOption(() => parseAllowedOrigins('https://a.example,htps://b.example'))).toMatch(/htps/);
    expect(invalidOption(() => parseAllowedOrigins('https://a.example;https://b.example'))).toMatch(
      /no path/,
    );
    expect(invalidOption(() => parseAllowedOrigins('*, https://a.example'))).toMatch(/cannot be combined/);
  });

  it('parses a public URL with an optional path prefix', () => {
    expect(parsePublicUrl('https://example.com').href).toBe('https://example.com/');
    expect(parsePublicUrl('https://example.com/realtime').href).toBe('https://example.com/realtime/');
    expect(invalidOption(() => parsePublicUrl('example.com'))).toMatch(/not an absolute URL/);
    expect(invalidOption(() => parsePublicUrl('javascript:alert(1)'))).toMatch(/http or https/);
    expect(invalidOption(() => parsePublicUrl('https://example.com/?a=1'))).toMatch(/no credentials, query/);
  });
});

describe('Forwarded (RFC 7239)', () => {
  it('parses elements, quoted values and IPv6 nodes', () => {
    expect(parseForwarded('for=192.0.2.60;proto=http;by=203.0.113.43')).toEqual([
      { for: '192.0.2.60', proto: 'http', by: '203.0.113.43' },
    ]);
    expect(
      parseForwarded('For="[2001:db8:cafe::17]:4711", for=198.51.100.17;Host="example.com:8443"'),
    ).toEqual([{ for: '[2001:db8:cafe::17]:4711' }, { for: '198.51.100.17', host: 'example.com:8443' }]);
  });

  it.each([
    'for=',
    'for="unterminated',
    '=1.2.3.4',
    'for=1.2.3.4;for=5.6.7.8',
    'for=1.2.3.4 proto=http',
    'for=a,b c',
    `for="${'x'.repeat(2000)}"`,
  ])('refuses malformed %j', (header) => {
    expect(parseForwarded(header)).toBeNull();
  });
});

describe('the origin and address a request is judged by', () => {
  const request = (headers: Record<string, string>, url = 'http://127.0.0.1:9000/rt/ws') =>
    new Request(url, { headers });
  const view = (trustProxy: TrustProxy | undefined, headers: Record<string, string>, peer = '127.0.0.1') =>
    createRequestViewer({ trustProxy })(request(headers), peer);
  const spoof = {
    forwarded: 'for=203.0.113.9;proto=https;host=app.example',
    'x-forwarded-for': '203.0.113.9',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'app.example',
  };

  it('by default ignores every forwarding header: Host and the socket decide', () => {
    expect(view(undefined, spoof)).toEqual({
      ip: '127.0.0.1',
      origin: 'http://127.0.0.1:9000',
      source: 'host',
    });
    expect(view(false, spoof).origin).toBe('http://127.0.0.1:9000');
  });

  it('a public URL names the origin outright', () => {
    const v = createRequestViewer({ publicUrl: 'https://app.example/realtime' })(request(spoof), '10.0.0.1');
    expect(v).toEqual({ ip: '10.0.0.1', origin: 'https://app.example', source: 'public-url' });
  });

  it('trusts X-Forwarded-* from the nearest proxy only (the last value of each list)', () => {
    expect(
      view('x-forwarded', {
        forwarded: 'for=198.51.100.1;host=evil.example',
        'x-forwarded-for': '6.6.6.6, 203.0.113.9',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'app.example',
      }),
    ).toEqual({ ip: '203.0.113.9', origin: 'https://app.example', source: 'x-forwarded' });
    // Only the proto (nginx's usual block): the host comes from Host.
    expect(view(true, { 'x-forwarded-proto': 'https' }, '::ffff:127.0.0.1')).toEqual({
      ip: '127.0.0.1',
      origin: 'https://127.0.0.1:9000',
      source: 'x-forwarded',
    });
  });

  it('trusts Forwarded when told to, and then ignores X-Forwarded-*', () => {
    expect(
      view('forwarded', {
        ...spoof,
        forwarded: 'for=1.1.1.1, for="[2001:db8::1]:4711";proto=https;host=rt.example',
      }),
    ).toEqual({
      ip: '2001:db8::1',
      origin: 'https://rt.example',
      source: 'forwarded',
    });
    expect(view('forwarded', { 'x-forwarded-host': 'app.example' }).origin).toBe('http://127.0.0.1:9000');
  });

  it.each([
    ['forwarded', { forwarded: 'for=1.2.3.4;host="app.example' }],
    ['forwarded', { forwarded: 'for=1.2.3.4;proto=javascript' }],
    ['x-forwarded', { 'x-forwarded-host': 'app.example/inject?x=1' }],
    ['x-forwarded', { 'x-forwarded-host': `${'a'.repeat(300)}.example` }],
    ['x-forwarded', { 'x-forwarded-host': 'app.example:99999' }],
    ['x-forwarded', { 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'app.example' }],
    ['x-forwarded', { 'x-forwarded-for': 'not-an-ip', 'x-forwarded-host': 'app.example' }],
    ['x-forwarded', { 'x-forwarded-host': `app.example${', x'.repeat(400)}` }],
  ] as const)('ignores malformed forwarding as a whole (%s %j)', (trust, headers) => {
    expect(view(trust, headers)).toEqual({
      ip: '127.0.0.1',
      origin: 'http://127.0.0.1:9000',
      source: 'host',
    });
  });

  it('with `from`, reads the headers only from the listed proxies', () => {
    const trust: TrustProxy = { headers: 'x-forwarded', from: ['10.0.0.5'] };
    expect(view(trust, spoof, '10.0.0.5').origin).toBe('https://app.example');
    expect(view(trust, spoof, '10.0.0.6')).toEqual({
      ip: '10.0.0.6',
      origin: 'http://127.0.0.1:9000',
      source: 'host',
    });
  });

  it('refuses a trustProxy typo instead of trusting nobody (or everybody) silently', () => {
    expect(invalidOption(() => normalizeTrustProxy('yes' as TrustProxy))).toMatch(/expected false, true/);
    expect(
      invalidOption(() => normalizeTrustProxy({ headers: 'x-forwarded', from: ['10.0.0.300'] })),
    ).toMatch(/not an IP address/);
    expect(invalidOption(() => normalizeTrustProxy({ headers: 'x-forwarded', from: [] }))).toMatch(
      /at least one/,
    );
  });
});

describe('environment variables', () => {
  const env = (vars: Record<string, string>) => deploymentFromEnv((name) => vars[name]);

  it('reads the deployment settings', () => {
    expect(env({})).toEqual({});
    expect(
      env({
        ALLOWED_ORIGINS: 'https://a.example https://b.example',
        PUBLIC_URL: 'https://rt.example/live',
        TRUST_PROXY: 'forwarded',
        TRUSTED_PROXIES: '10.0.0.5, ::1',
      }),
    ).toEqual({
      allowedOrigins: ['https://a.example', 'https://b.example'],
      publicUrl: 'https://rt.example/live/',
      trustProxy: { headers: 'forwarded', from: ['10.0.0.5', '::1'] },
    });
    expect(env({ TRUST_PROXY: 'true' })).toEqual({ trustProxy: 'x-forwarded' });
    expect(env({ TRUST_PROXY: 'false', PUBLIC_URL: ' ' })).toEqual({ trustProxy: false });
  });

  it('names the variable a typo is in', () => {
    expect(invalidOption(() => env({ ALLOWED_ORIGINS: 'https://a.example,app.example' }))).toMatch(
      /^ALLOWED_ORIGINS: /,
    );
    expect(invalidOption(() => env({ PUBLIC_URL: 'rt.example' }))).toMatch(/^PUBLIC_URL: /);
    expect(invalidOption(() => env({ TRUST_PROXY: 'ture' }))).toMatch(/^TRUST_PROXY: /);
    expect(invalidOption(() => env({ TRUST_PROXY: 'true', TRUSTED_PROXIES: 'proxy.local' }))).toMatch(
      /^TRUSTED_PROXIES: .*not an IP address/,
    );
    expect(invalidOption(() => env({ TRUSTED_PROXIES: '10.0.0.5' }))).toMatch(/TRUST_PROXY is not/);
  });
});
