/** docs/protocol.md must list every named close code with the retry decision the code makes, and its reason. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CloseCode, closeCodeInfo } from '../src/close-codes.ts';

it('documents every close code with its retry decision', () => {
  const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
  for (const [name, code] of Object.entries(CloseCode)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| ${code} | ${name} |`));
    expect(row, `row for ${code} ${name}`).toBeDefined();
    const info = closeCodeInfo(code);
    expect(row!.split('|')[3]!.trim()).toBe(info.retry === 'retry' ? 'yes' : 'no');
    expect(row!.split('|')[4]!.trim()).toBe(info.why);
  }
});
