/**
 * docs/protocol.md must list every named close code with the retry decision the code makes, and its reason, and
 * every envelope type with exactly the fields the validator accepts.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CloseCode, closeCodeInfo } from '../src/close-codes.ts';
import { SHAPES } from '../src/envelope.ts';

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

it('documents every envelope type with its fields', () => {
  const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8');
  for (const [type, spec] of Object.entries(SHAPES)) {
    const row = doc
      .split('\n')
      .find((line) => line.startsWith('| `') && line.split('|')[1]!.includes(`\`${type}\``));
    expect(row, `row for envelope ${type}`).toBeDefined();
    const documented = [...row!.split('|')[3]!.matchAll(/`([A-Za-z]+\??)`/g)].map((m) => m[1]).sort();
    const fields = spec
      .split(' ')
      .map((field) => field.split(':')[0])
      .sort();
    expect(documented, `fields of ${type}`).toEqual(fields);
  }
});
