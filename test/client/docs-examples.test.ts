/** docs/client.md shows real files, and the files run: examples can neither drift nor rot. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main as cursors } from '../../docs/examples/cursors.ts';
import { main as quickstart } from '../../docs/examples/quickstart.ts';
import { main as typed } from '../../docs/examples/typed.ts';

const doc = readFileSync(new URL('../../docs/client.md', import.meta.url), 'utf8');

describe('docs/client.md examples', () => {
  it('embeds every example file verbatim', () => {
    const blocks = [...doc.matchAll(/```ts file=(\S+)\n([\s\S]*?)```/g)];
    expect(blocks.map((b) => b[1])).toEqual([
      'docs/examples/quickstart.ts',
      'docs/examples/typed.ts',
      'docs/examples/cursors.ts',
    ]);
    for (const [, path, body] of blocks) {
      expect(body).toBe(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'));
    }
  });

  /** The `Output:` block that follows an example's code block in the doc. */
  function documentedOutput(path: string): string[] {
    const start = doc.indexOf(`\`\`\`ts file=${path}`);
    const match = /Output:\n\n```\n([\s\S]*?)```/.exec(doc.slice(start));
    return (match?.[1] ?? '').trimEnd().split('\n');
  }

  it('quickstart prints what the doc says', async () => {
    expect(await quickstart()).toEqual(documentedOutput('docs/examples/quickstart.ts'));
  });

  it('typed example prints what the doc says', async () => {
    expect(await typed()).toEqual(documentedOutput('docs/examples/typed.ts'));
  });

  it('cursors example prints what the doc says', async () => {
    expect(await cursors()).toEqual(documentedOutput('docs/examples/cursors.ts'));
  });
});
