/** The messages between the orchestrator (bench/run.ts) and its load workers (./worker.ts), over fork IPC. */

export type LoadSystem = import('./ws-systems.ts').WsSystem | SseSystem;

export type SseSystem =
  | 'sse-push'
  | 'sse-raw-push'
  | 'sse-echo'
  | 'sse-raw-echo'
  | 'sse-idle'
  | 'sse-hello-idle'
  | 'sse-raw-idle';

export interface LoadJob {
  readonly system: LoadSystem;
  readonly host: string;
  readonly port: number;
  /** Connections this worker opens (echo, idle) or subscribers per group (fan-out). */
  readonly conns: number;
  /** Fan-out only: the groups this worker hosts, one publisher each plus `conns` subscribers. */
  readonly groups?: readonly number[];
  readonly size: number;
  /** Requests outstanding per connection (echo), or deliveries outstanding per subscriber (fan-out). */
  readonly inFlight: number;
  /** Distinguishes this worker's connections on servers that key streams by a client-chosen id. */
  readonly tag: string;
}

export type ToWorker =
  | { readonly type: 'open'; readonly job: LoadJob }
  | { readonly type: 'go' }
  | { readonly type: 'mark' }
  | { readonly type: 'stop' }
  | { readonly type: 'latency'; readonly job: LoadJob; readonly samples: number }
  | { readonly type: 'exit' };

export type FromWorker =
  | { readonly type: 'opened'; readonly conns: number }
  | { readonly type: 'progress'; readonly conns: number }
  | { readonly type: 'count'; readonly received: number }
  | { readonly type: 'stopped'; readonly unexpected: number; readonly errors: readonly string[] }
  | { readonly type: 'latency'; readonly micros: readonly number[] }
  | { readonly type: 'error'; readonly message: string };
