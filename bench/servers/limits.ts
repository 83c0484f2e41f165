/** The message size limit of every switchyard server under test: 2 MiB, so that the 1 MiB rows fit with headroom. */
export const BENCH_MAX_MESSAGE_BYTES = 2 << 20;
