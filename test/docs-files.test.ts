/**
 * docs/deploying.md and docs/testing-with-playwright.md show real files (the proxy configurations the
 * deployment e2e runs, the example app's code): every ```lang file=path block must be that file verbatim, and
 * every configuration in docs/deploy/ must be shown.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

function embedded(doc: string): [string, string][] {
  return [...read(doc).matchAll(/```\w+ file=(\S+)\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!]);
}

describe.each(['docs/deploying.md', 'docs/testing-with-playwright.md'])('%s', (doc) => {
  it('embeds files verbatim', () => {
    const blocks = embedded(doc);
    expect(blocks.length).toBeGreaterThan(2);
    for (const [path, body] of blocks) expect(body, path).toBe(read(path));
  });
});

it('docs/deploying.md shows every configuration the deployment e2e runs', () => {
  const shown = embedded('docs/deploying.md').map(([path]) => path);
  for (const file of readdirSync(new URL('../docs/deploy/', import.meta.url))) {
    expect(shown).toContain(`docs/deploy/${file}`);
  }
});
