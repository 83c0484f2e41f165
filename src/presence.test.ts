import { describe, expect, it } from 'vitest';
import { assertPresenceInfo, MAX_PRESENCE_INFO_BYTES, presenceInfoProblem } from './presence.ts';

describe('presence info', () => {
  it('accepts a plain object of up to MAX_PRESENCE_INFO_BYTES as JSON', () => {
    // {"n":"…"} is 8 bytes of JSON around the string.
    const fits = { n: 'x'.repeat(MAX_PRESENCE_INFO_BYTES - 8) };
    expect(JSON.stringify(fits).length).toBe(MAX_PRESENCE_INFO_BYTES);
    expect(presenceInfoProblem(fits)).toBeNull();
    expect(() => assertPresenceInfo({ name: 'Ada' })).not.toThrow();
  });

  it('counts UTF-8 bytes, not characters, and refuses more with ERR_PRESENCE_INFO_TOO_BIG', () => {
    // 200 three-byte characters: 200 UTF-16 units but 600 bytes.
    const problem = presenceInfoProblem({ n: '€'.repeat(200) });
    expect(problem).toEqual({
      code: 'ERR_PRESENCE_INFO_TOO_BIG',
      message: `presence info: 608 bytes as JSON, at most ${MAX_PRESENCE_INFO_BYTES}`,
    });
    expect(() => assertPresenceInfo({ name: 'x'.repeat(MAX_PRESENCE_INFO_BYTES) })).toThrow(
      expect.objectContaining({ code: 'ERR_PRESENCE_INFO_TOO_BIG' }),
    );
  });

  it('refuses what is not a plain JSON object with ERR_INVALID_ENVELOPE, whatever its size', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const info of [[1], null, 'Ada', 7, { n: 1n }, cyclic]) {
      expect(presenceInfoProblem(info)?.code).toBe('ERR_INVALID_ENVELOPE');
      expect(() => assertPresenceInfo(info)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ENVELOPE' }),
      );
    }
    expect(presenceInfoProblem(['x'.repeat(2000)])?.code).toBe('ERR_INVALID_ENVELOPE');
  });
});
