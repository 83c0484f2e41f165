/** Utf8Text: its size, its bytes as one array and its text, whatever the pieces. */
import { describe, expect, it } from 'vitest';
import { Utf8Text } from './utf8-text.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('Utf8Text', () => {
  it('is the concatenation of its pieces, in bytes and in text', () => {
    const text = new Utf8Text([utf8('{"a":'), utf8('"é ☃ 😀"'), utf8('}')]);
    expect(text.byteLength).toBe(utf8('{"a":"é ☃ 😀"}').byteLength);
    expect(text.bytes()).toEqual(utf8('{"a":"é ☃ 😀"}'));
    expect(text.text()).toBe('{"a":"é ☃ 😀"}');
  });

  it('gives a single piece back as it is (no copy) and an empty one as empty text', () => {
    const piece = utf8('only');
    expect(new Utf8Text([piece]).bytes()).toBe(piece);
    const empty = new Utf8Text([]);
    expect(empty.byteLength).toBe(0);
    expect(empty.bytes().byteLength).toBe(0);
    expect(empty.text()).toBe('');
  });
});
