import type * as ort from 'onnxruntime-node';

/** The fastest of `runs` runs of a session on the same feeds, in seconds, after one warm-up run. */
export async function fastestRun(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, runs = 5): Promise<number> {
  await session.run(feeds);
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}
