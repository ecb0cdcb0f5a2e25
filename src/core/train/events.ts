import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeIssues } from '../zod-issues';
import { RunEvent, type RunEventPayload } from './run-event';

// The events' schema is in a module of its own that imports zod only, so that the panel's page
// (bundled for the browser) can check what it draws against it; everything else imports it from here.
export { RunEvent, type RunEventPayload };

export const TERMINAL: ReadonlySet<RunEvent['type']> = new Set(['done', 'cancelled', 'failed']);

/** Appends events, each flushed to disk before `append` returns, so that nothing written is lost. */
export class EventWriter {
  private readonly fd: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
  }

  append(e: RunEventPayload): RunEvent {
    const event = { ...e, time: new Date().toISOString() } as RunEvent;
    fs.writeSync(this.fd, `${JSON.stringify(event)}\n`);
    fs.fsyncSync(this.fd);
    return event;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/**
 * Reads events from a byte offset: complete lines only (a line still being written is left for the
 * next read). An invalid line is reported, not skipped silently.
 */
export function readEvents(file: string, offset = 0): { events: RunEvent[]; offset: number; invalid: { line: string; why: string }[] } {
  if (!fs.existsSync(file)) return { events: [], offset, invalid: [] };
  const size = fs.statSync(file).size;
  if (size <= offset) return { events: [], offset, invalid: [] };
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(size - offset);
  try {
    fs.readSync(fd, buf, 0, buf.length, offset);
  } finally {
    fs.closeSync(fd);
  }
  const text = buf.toString('utf8');
  const end = text.lastIndexOf('\n');
  if (end < 0) return { events: [], offset, invalid: [] };
  const events: RunEvent[] = [];
  const invalid: { line: string; why: string }[] = [];
  for (const line of text.slice(0, end).split('\n')) {
    if (!line.trim()) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      invalid.push({ line, why: (e as Error).message });
      continue;
    }
    const r = RunEvent.safeParse(fromEarlierFormat(parsed));
    if (r.success) events.push(r.data);
    else invalid.push({ line, why: describeIssues(r.error, '(event)') });
  }
  return { events, offset: offset + Buffer.byteLength(text.slice(0, end + 1), 'utf8'), invalid };
}

/**
 * Runs written before `done` had `result` and `kind` named the result `adapter`, whatever it held (a
 * full fine-tune's `model/` folder too): read them as the current format says.
 */
function fromEarlierFormat(e: unknown): unknown {
  const o = e as { type?: unknown; result?: unknown; adapter?: unknown } | null;
  if (o === null || typeof o !== 'object' || o.type !== 'done' || o.result !== undefined || typeof o.adapter !== 'string') return e;
  const { adapter, ...rest } = o as Record<string, unknown> & { adapter: string };
  return { ...rest, result: adapter, kind: path.basename(adapter) === 'model' ? 'model' : 'adapter' };
}

/**
 * Follow a run from another process: calls `onEvent` for every event already written and every event
 * appended after, until a terminal event, the signal, or the owner dying without one (then it
 * reports a failure itself, reading the owner's pid from the lock).
 */
export async function followEvents(
  file: string,
  onEvent: (e: RunEvent) => void,
  /** `offset`: start at this byte (e.g. the file's size before a resume, to skip the earlier part's end). */
  options: { signal?: AbortSignal; pollMs?: number; isOwnerAlive?: () => boolean; offset?: number } = {},
): Promise<RunEvent | undefined> {
  let offset = options.offset ?? 0;
  const poll = options.pollMs ?? 100;
  for (;;) {
    const r = readEvents(file, offset);
    offset = r.offset;
    for (const e of r.events) {
      onEvent(e);
      if (TERMINAL.has(e.type)) return e;
    }
    if (options.signal?.aborted) return undefined;
    if (options.isOwnerAlive && !options.isOwnerAlive()) {
      // One more read: the owner may have written its last event just before exiting.
      const last = readEvents(file, offset);
      for (const e of last.events) {
        onEvent(e);
        if (TERMINAL.has(e.type)) return e;
      }
      const failed: RunEvent = { type: 'failed', time: new Date().toISOString(), message: 'the trainer process ended without finishing the run' };
      onEvent(failed);
      return failed;
    }
    await new Promise((res) => setTimeout(res, poll));
  }
}
