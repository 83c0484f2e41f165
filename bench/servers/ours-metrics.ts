/**
 * switchyard's protocol under test with Prometheus metrics counting every connection and publish (what counting
 * costs; the only bench server that loads prom-client, see ours-app.ts).
 */
import { createMetrics } from '../../server/metrics/index.ts';
import { startOurs } from './ours-app.ts';

await startOurs(createMetrics());
