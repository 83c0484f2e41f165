/**
 * The message size limit of every server under test, switchyard's and the baselines' alike: 2 MiB, so that the
 * 1 MiB rows fit with headroom and no system is measured with a larger allowance than another.
 */
export const BENCH_MAX_MESSAGE_BYTES = 2 << 20;
