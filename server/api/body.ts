/**
 * Reads a request's JSON body with a byte limit, before any of it is parsed: a declared `content-length` over
 * the limit is refused without reading, and a streamed body is cut off as soon as it passes the limit, so an
 * oversize request never costs more than the limit in memory. Whatever is wrong is an ApiError with its code.
 */
import type { Context } from 'hono';
import { ApiError } from './errors.ts';

export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  const tooLarge = () =>
    new ApiError('ERR_TOO_LARGE', `request body over ${maxBytes} bytes`, { limit: maxBytes });
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge();
  const body = c.req.raw.body;
  if (!body) throw new ApiError('ERR_MALFORMED', 'expected a JSON body');
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError('ERR_MALFORMED', 'the body is not UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError('ERR_MALFORMED', `the body is not JSON: ${(error as Error).message}`);
  }
}

/** The body as a JSON object (not an array, string or null). */
export function asObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('ERR_MALFORMED', 'expected a JSON object');
  }
  return value as Record<string, unknown>;
}
