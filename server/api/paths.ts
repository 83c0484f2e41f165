/**
 * Where the server API's routes live: one table that the routes mount from and that clients and docs can import,
 * so a path is never spelled twice. `metrics` is the Prometheus endpoint (server/metrics), listed for the same
 * reason; it is served by the metrics module, not by the API.
 */
export const API_PATHS = {
  publish: '/rt/api/publish',
  batch: '/rt/api/batch',
  history: '/rt/api/history',
  presence: '/rt/api/presence',
  metrics: '/rt/metrics',
} as const;
