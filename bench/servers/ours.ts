/**
 * switchyard's protocol under test without metrics (ours-app.ts). The rungs alone are rung.ts.
 */
import { startOurs } from './ours-app.ts';

await startOurs();
