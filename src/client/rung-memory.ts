/**
 * Remembers, per server origin, the rung that last worked, so that the next page load starts there instead
 * of waiting for a blocked rung's timer again. Entries expire (TTL), so one slow handshake never demotes a
 * user for good; the client also climbs back up in the background. localStorage in browsers, memory elsewhere.
 */
import type { TransportKind } from '../transport.ts';
import { DEFAULT_ORDER } from './ladder.ts';

export interface RungMemory {
  get(origin: string): TransportKind | undefined;
  set(origin: string, kind: TransportKind): void;
  forget(origin: string): void;
}

const PREFIX = 'switchyard:rung:';

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * A `Storage`-backed memory (localStorage in browsers). Unreadable or foreign entries count as absent, and a
 * storage that refuses (quota, privacy mode) only costs the optimisation: remembering is never a requirement.
 */
export function storageRungMemory(
  storage: StorageLike,
  ttlMs: number,
  now: () => number = Date.now,
): RungMemory {
  return {
    get(origin) {
      try {
        const { kind, at } = JSON.parse(storage.getItem(PREFIX + origin) as string);
        if (
          DEFAULT_ORDER.includes(kind) &&
          typeof at === 'number' &&
          now() - at <= ttlMs &&
          at <= now() + 60_000
        )
          return kind;
      } catch {}
      return undefined;
    },
    set(origin, kind) {
      try {
        storage.setItem(PREFIX + origin, JSON.stringify({ kind, at: now() }));
      } catch {}
    },
    forget(origin) {
      try {
        storage.removeItem(PREFIX + origin);
      } catch {}
    },
  };
}

/** Process memory, bounded to the most recent 100 origins. */
export function memoryRungMemory(ttlMs: number, now: () => number = Date.now): RungMemory {
  const entries = new Map<string, string>();
  const storage: StorageLike = {
    getItem: (key) => entries.get(key) ?? null,
    setItem(key, value) {
      entries.delete(key);
      entries.set(key, value);
      if (entries.size > 100) entries.delete(entries.keys().next().value as string);
    },
    removeItem: (key) => void entries.delete(key),
  };
  return storageRungMemory(storage, ttlMs, now);
}

/** The default: localStorage where it exists and works, else process memory. */
export function defaultRungMemory(ttlMs: number): RungMemory {
  try {
    const storage = (globalThis as { localStorage?: StorageLike }).localStorage;
    // Access may throw (sandboxed iframe, privacy settings): then memory it is.
    storage?.getItem(PREFIX);
    if (storage) return storageRungMemory(storage, ttlMs);
  } catch {}
  return memoryRungMemory(ttlMs);
}
