/**
 * Remembers, per server origin, the rung that last worked, so that the next page load starts there instead
 * of waiting for a blocked rung's timer again. Entries expire (TTL), so one slow handshake never demotes a
 * user for good; the client also climbs back up in the background. localStorage in browsers, memory elsewhere.
 */
import type { TransportKind } from '../transport.ts';

export interface RungMemory {
  get(origin: string): TransportKind | undefined;
  set(origin: string, kind: TransportKind): void;
  forget(origin: string): void;
}

const KINDS: readonly string[] = ['webtransport', 'websocket', 'sse'];
const PREFIX = 'switchyard:rung:';

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A `Storage`-backed memory (localStorage in browsers); unreadable or foreign entries count as absent. */
export function storageRungMemory(
  storage: StorageLike,
  ttlMs: number,
  now: () => number = Date.now,
): RungMemory {
  return {
    get(origin) {
      try {
        const raw = storage.getItem(PREFIX + origin);
        if (raw === null) return undefined;
        const value: unknown = JSON.parse(raw);
        if (typeof value !== 'object' || value === null) return undefined;
        const { kind, at } = value as { kind?: unknown; at?: unknown };
        if (typeof kind !== 'string' || !KINDS.includes(kind) || typeof at !== 'number') return undefined;
        if (now() - at > ttlMs || at > now() + 60_000) return undefined;
        return kind as TransportKind;
      } catch {
        return undefined;
      }
    },
    set(origin, kind) {
      try {
        storage.setItem(PREFIX + origin, JSON.stringify({ kind, at: now() }));
      } catch {
        // Quota or privacy mode: remembering is an optimisation, not a requirement.
      }
    },
    forget(origin) {
      try {
        storage.removeItem(PREFIX + origin);
      } catch {
        // Same as above.
      }
    },
  };
}

/** Process memory, bounded to the most recent 100 origins. */
export function memoryRungMemory(ttlMs: number, now: () => number = Date.now): RungMemory {
  const entries = new Map<string, { kind: TransportKind; at: number }>();
  return {
    get(origin) {
      const entry = entries.get(origin);
      if (!entry || now() - entry.at > ttlMs) return undefined;
      return entry.kind;
    },
    set(origin, kind) {
      entries.delete(origin);
      entries.set(origin, { kind, at: now() });
      if (entries.size > 100) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
    },
    forget(origin) {
      entries.delete(origin);
    },
  };
}

/** The default: localStorage where it exists and works, else process memory. */
export function defaultRungMemory(ttlMs: number): RungMemory {
  const storage = (globalThis as { localStorage?: StorageLike }).localStorage;
  if (storage) {
    try {
      storage.getItem(`${PREFIX}probe`);
      return storageRungMemory(storage, ttlMs);
    } catch {
      // Access denied (sandboxed iframe, privacy settings): fall through.
    }
  }
  return memoryRungMemory(ttlMs);
}
