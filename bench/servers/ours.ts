/**
 * switchyard under test without metrics (ours-app.ts): `rung` (argv[2], the default) or `protocol`.
 */
import { startOurs } from './ours-app.ts';

await startOurs(process.argv[2] ?? 'rung');
