import { errorInfo, type HandlerContext, HANDLERS } from './handlers';
import { describeIssues, type FromWorker, type RequestMethod, REQUESTS, ToWorker } from './protocol';

/**
 * Entry of the worker process, forked by `WorkerClient` with an IPC channel. Heavy work (model
 * loading, generation, and later the trainer) runs here so that it never blocks the extension host.
 */
function send(message: FromWorker): void {
  process.send?.(message);
}

const running = new Map<number, AbortController>();

async function handle(message: unknown): Promise<void> {
  const parsed = ToWorker.safeParse(message);
  if (!parsed.success) {
    send({ kind: 'log', level: 'error', message: `worker: ignored an invalid message: ${describeIssues(parsed.error)}` });
    return;
  }
  const m = parsed.data;
  if (m.kind === 'cancel') {
    running.get(m.id)?.abort();
    return;
  }
  const method: RequestMethod = m.method;
  const params = REQUESTS[method].params.safeParse(m.params);
  if (!params.success) {
    send({ kind: 'error', id: m.id, error: { message: `invalid params for ${method}: ${describeIssues(params.error)}`, user: false } });
    return;
  }
  const controller = new AbortController();
  running.set(m.id, controller);
  try {
    const handler = HANDLERS[method] as (p: unknown, ctx: HandlerContext) => unknown;
    const id = m.id;
    const result = await handler(params.data, { signal: controller.signal, emit: (event) => send({ kind: 'event', id, event }) });
    send({ kind: 'result', id: m.id, result });
  } catch (e) {
    send({ kind: 'error', id: m.id, error: errorInfo(e) });
  } finally {
    running.delete(m.id);
  }
}

if (!process.send) {
  process.stderr.write('tuneloop worker: start me with an IPC channel (child_process.fork)\n');
  process.exit(2);
}
process.on('message', (m) => void handle(m));
// The worker lives as long as its parent: when the channel closes, it exits.
process.on('disconnect', () => process.exit(0));
send({ kind: 'ready', pid: process.pid });
