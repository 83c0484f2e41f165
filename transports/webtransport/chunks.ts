/**
 * Reads a WebTransport stream chunk by chunk. Where the stream is a byte stream (browsers, Deno), it is read
 * into buffers we size to the traffic (BYOB): an idle stream then holds a 1 KiB buffer while it waits instead
 * of the runtime's default read buffer (64 KiB in Deno: with a stream per topic that was ~100 KiB of server
 * memory per open lane, bench/lanes.ts). Busy streams grow their buffer up to 64 KiB, so bulk data still
 * moves in large reads. Other streams are read the default way.
 */
const MIN_BUFFER = 1024;
const MAX_BUFFER = 64 * 1024;

export interface ChunkReader {
  /** The next chunk, or undefined at the end of the stream. Rejects when the stream is reset. */
  read(): Promise<Uint8Array | undefined>;
}

export function chunkReader(readable: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = (readable as ReadableStream<Uint8Array<ArrayBuffer>>).getReader({ mode: 'byob' });
  } catch {
    byob = undefined;
  }
  if (!byob) {
    const reader = readable.getReader();
    return {
      async read() {
        const { done, value } = await reader.read();
        return done ? undefined : value;
      },
    };
  }
  const reader = byob;
  let size = MIN_BUFFER;
  return {
    async read() {
      const { done, value } = await reader.read(new Uint8Array(size));
      if (done || !value) return undefined;
      // The chunk keeps its own buffer (frames hold views into it); the next read gets a fresh one.
      if (value.byteLength === size) size = Math.min(MAX_BUFFER, size * 2);
      else if (value.byteLength < size / 4) size = Math.max(MIN_BUFFER, size / 2);
      return value;
    },
  };
}
