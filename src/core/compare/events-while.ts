/**
 * An async generator over what a piece of work reports through a callback while it runs (the
 * tokens `generate` streams, the progress of a model load), ending with the work's result. Events
 * wait in a queue for the consumer; none is dropped. When the consumer stops early, `cancel` is
 * called and the generator waits for the work to settle, so that nothing the work uses (a model,
 * say) is freed under it.
 */
export async function* eventsWhile<E, R>(work: (push: (event: E) => void) => Promise<R>, cancel: () => void): AsyncGenerator<E, R, undefined> {
  const queue: E[] = [];
  let wake: (() => void) | undefined;
  let settled = false;
  const done = work((event) => {
    queue.push(event);
    wake?.();
  }).finally(() => {
    settled = true;
    wake?.();
  });
  try {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (settled) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
    return await done;
  } finally {
    if (!settled) {
      cancel();
      await done.catch(() => undefined);
    }
  }
}
