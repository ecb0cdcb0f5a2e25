/**
 * A small seeded generator (mulberry32): the same seed gives the same numbers on every machine. Used
 * wherever a run must be reproducible: shuffles, splits, initialisation, dropout masks, test data.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One of `items`, drawn with `r` (one draw). */
export function pick<T>(items: readonly T[], r: () => number): T {
  return items[Math.floor(r() * items.length)]!;
}

/**
 * One of the table's values, each as likely as its weight (the weights sum to 1), with one draw of
 * `r`; `fallback` when rounding leaves the draw past the last weight.
 */
export function pickWeighted<T>(table: readonly (readonly [T, number])[], r: () => number, fallback: T): T {
  let x = r();
  for (const [value, weight] of table) {
    if (x < weight) return value;
    x -= weight;
  }
  return fallback;
}
