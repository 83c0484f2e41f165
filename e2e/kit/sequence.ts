/**
 * The loss check of switchyard/playwright, pure so that it is unit-tested: given the sequence numbers that
 * arrived on one topic, in arrival order, what went wrong (gaps, duplicates, reordering).
 */

/** Problems with one topic's sequence; empty when intact. `from`: the first number expected (default: lowest). */
export function sequenceProblems(seqs: readonly number[], from?: number): string[] {
  if (seqs.length === 0) return from === undefined ? [] : [`nothing arrived (expected from #${from})`];
  const problems: string[] = [];
  const seen = new Set<number>();
  let highest = Number.NEGATIVE_INFINITY;
  for (const seq of seqs) {
    if (seen.has(seq)) problems.push(`#${seq} arrived twice`);
    else if (seq < highest) problems.push(`#${seq} arrived after #${highest} (out of order)`);
    seen.add(seq);
    highest = Math.max(highest, seq);
  }
  const missing: string[] = [];
  let gapStart: number | undefined;
  for (let n = from ?? Math.min(...seen); n <= highest + 1; n++) {
    if (!seen.has(n) && n <= highest) gapStart ??= n;
    else if (gapStart !== undefined) {
      missing.push(gapStart === n - 1 ? `#${gapStart} missing` : `#${gapStart}..#${n - 1} missing`);
      gapStart = undefined;
    }
  }
  return [...missing, ...problems];
}
