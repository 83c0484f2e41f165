/**
 * The demo as a deployment runs it, read from the environment the same way by both bindings (server/main.ts
 * under Node, server/deno/main.ts under Deno), so that they cannot drift apart: one node of several when
 * REDIS_URL is set (hub, sessions, presence, spent tokens and the SSE upstream through Redis), tokens required
 * on every connection, same-origin only unless ALLOWED_ORIGINS says more, and the server API with metrics
 * behind API_KEY. What it returns goes into either binding's server options as it is.
 */
import type { ConnectionHandler } from '../../src/transport.ts';
import type { SwitchyardApp } from '../app.ts';
import { createMetrics } from '../metrics/index.ts';
import { type EnvLookup, redisEngineFromEnv, tokenSecretFromEnv } from '../redis/env.ts';
import type { RedisEngine } from '../redis/index.ts';
import { createSecurity, type Security } from '../security/index.ts';
import { createDemo, type Demo } from './app.ts';

export interface DemoEnvOptions {
  readonly bundle: string;
  readonly heartbeatMs: number;
  /** From deploymentFromEnv (ALLOWED_ORIGINS); undefined: same origin only. */
  readonly allowedOrigins?: string[] | undefined;
  /** From apiKeyFromEnv (API_KEY); undefined: no server API and no metrics. */
  readonly apiKey?: readonly string[] | undefined;
  readonly log: (line: string) => void;
}

export interface DemoFromEnv {
  readonly demo: Demo;
  readonly engine: RedisEngine | undefined;
  /** The part of the server's options that the demo decides, for startNodeServer and serveDeno alike. */
  readonly server: {
    readonly security: Security;
    readonly onConnection: ConnectionHandler;
    readonly configure: (app: SwitchyardApp) => void;
    readonly admission?: RedisEngine['admission'];
    readonly sseForwarder?: RedisEngine['forwarder'];
  };
  /** Stops the demo and lets go of Redis (after the server closed). */
  stop(): Promise<void>;
}

export async function demoFromEnv(env: EnvLookup, options: DemoEnvOptions): Promise<DemoFromEnv> {
  const engine = await redisEngineFromEnv(env, options.log);
  const secret = tokenSecretFromEnv(env);
  // Like a real deployment: same-origin only, short-lived tokens on every connection, request log redacted.
  const security = createSecurity({
    requireTokens: true,
    ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
    // Spent tokens recorded in Redis when there is one: single use holds across every node.
    tokens: { ...(secret ? { secret } : {}), ...(engine ? { replay: engine.replay } : {}) },
  });
  const demo = createDemo({
    bundle: options.bundle,
    heartbeatMs: options.heartbeatMs,
    authenticate: security.authenticateHello,
    ...(engine ? { hub: engine.hub, sessionStore: engine.sessions, presence: engine.presence } : {}),
    // One node of several publishes the ticker (TICKER=0 on the others).
    ticker: env('TICKER') !== '0',
    // The metrics are behind the API key: without one they are neither served nor counted.
    ...(options.apiKey
      ? { apiKey: options.apiKey, metrics: createMetrics(engine ? { redis: engine.link } : {}) }
      : {}),
  });
  return {
    demo,
    engine,
    server: {
      security,
      onConnection: demo.protocol.onConnection,
      configure: (app) => {
        demo.configure(app);
        engine?.install(app);
      },
      ...(engine ? { admission: engine.admission, sseForwarder: engine.forwarder } : {}),
    },
    async stop() {
      await demo.stop();
      await engine?.close();
    },
  };
}
