/**
 * Helpers for the server API tests: a caller with the key (or another one), against any server URL.
 */
export const API_KEY = 'test-api-key-0123456789abcdef';

export interface ApiAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export async function api(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  options: { key?: string | null; raw?: string } = {},
): Promise<ApiAnswer> {
  const key = options.key === undefined ? API_KEY : options.key;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(options.raw !== undefined
      ? { body: options.raw }
      : body !== undefined
        ? { body: JSON.stringify(body) }
        : {}),
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}
