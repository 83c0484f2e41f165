/**
 * `npm run build` (and `prepack`): compiles the public entry points to dist/ with tsc, then makes the
 * declarations importable from node_modules. tsc rewrites `./x.ts` to `./x.js` in emitted JavaScript
 * (rewriteRelativeImportExtensions) but leaves `.ts` specifiers in `.d.ts` files, which consumers' type
 * checkers and tools like @arethetypeswrong/cli do not all accept; same-length rewrite keeps declaration
 * maps valid. Fails if any relative `.ts` specifier survives in dist/.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');

/** Relative module specifiers ending in .ts, in import/export statements and import() types. */
const RELATIVE_TS = /((?:from\s+|import\s*\(\s*|import\s+)['"])(\.{1,2}\/[^'"]*?)\.ts(['"])/g;

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

rmSync(dist, { recursive: true, force: true });
execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

let rewritten = 0;
const leftovers: string[] = [];
for (const file of files(dist)) {
  if (!/\.(d\.ts|js)$/.test(file)) continue;
  const text = readFileSync(file, 'utf8');
  const fixed = file.endsWith('.d.ts') ? text.replace(RELATIVE_TS, '$1$2.js$3') : text;
  if (fixed !== text) {
    writeFileSync(file, fixed);
    rewritten++;
  }
  // Doc comments may show source-tree imports (`./src/client/index.ts`); only code lines count.
  const code = fixed.split('\n').filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line));
  if (code.some((line) => new RegExp(RELATIVE_TS.source).test(line))) leftovers.push(file);
}
if (leftovers.length > 0) {
  throw new Error(`relative .ts specifiers left in dist/: ${leftovers.join(', ')}`);
}
console.log(`dist/ built (${rewritten} declaration files had their .ts specifiers rewritten to .js)`);
