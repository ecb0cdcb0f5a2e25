import { TuneloopError } from '../errors';
import { VERSION } from '../version';
import type { ResolvedHubOptions } from './options';

/** What a request is about, for error messages. */
export interface RequestSubject {
  repo: string;
  revision: string;
  /** The file inside the repo, for file requests. */
  file?: string;
}

/**
 * The endpoint could not be reached at all (no network, DNS failure, refused connection), or
 * stopped sending (HubStalledError), as opposed to answering with an error. fetchModel falls back
 * to the cache on this one only, and a download retries it.
 */
export class HubUnreachableError extends TuneloopError {}

/** Nothing came over the connection for the idle timeout, before the answer or in its body. */
export class HubStalledError extends HubUnreachableError {}

const MAX_REDIRECTS = 10;

function describeCause(e: unknown): string {
  // Node's fetch rejects with "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND…) in `cause`.
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return e instanceof Error ? e.message : String(e);
}

/** If the caller aborted, rethrow its reason (an AbortError) unchanged so cancellation is recognisable. */
export function rethrowIfAborted(ro: ResolvedHubOptions, e: unknown): void {
  if (ro.signal?.aborted) throw ro.signal.reason ?? e;
}

/**
 * One request's idle timeout: each guarded wait (for the answer, then for each piece of the body)
 * fails with `stalled()` when nothing comes for `ms`, and aborts the request so that its
 * connection is closed. Only waits are timed, so a slow reader never trips it.
 */
class IdleWatch {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;

  constructor(
    private readonly ms: number,
    private readonly stalled: () => Error,
  ) {}

  async guard<T>(wait: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = this.stalled();
        this.controller.abort(e);
        reject(e);
      }, this.ms);
    });
    try {
      return await Promise.race([wait, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The body as a stream whose every read is guarded by `idle`. */
function watchedBody(body: ReadableStream<Uint8Array>, idle: IdleWatch): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const r = await idle.guard(reader.read());
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  ); // read only when the consumer asks: no timer runs while nobody waits
}

/**
 * One request, no redirect followed. The token goes only to the endpoint's own origin: LFS files
 * redirect to a CDN on another host, which must never see it. `Accept-Encoding: identity` keeps
 * Content-Length the real size of the file (fetch would otherwise undo a gzip transparently).
 * The answer, and then each piece of its body, must come within the idle timeout.
 */
async function sendOnce(url: URL, method: 'GET' | 'HEAD', headers: Record<string, string>, ro: ResolvedHubOptions, subject: RequestSubject): Promise<Response> {
  const h: Record<string, string> = { 'User-Agent': `tuneloop/${VERSION}`, 'Accept-Encoding': 'identity', ...headers };
  if (ro.token !== undefined && url.origin === new URL(ro.endpoint).origin) h['Authorization'] = `Bearer ${ro.token}`;
  const idle = new IdleWatch(
    ro.idleTimeoutMs,
    () =>
      new HubStalledError(
        `${url.origin} sent nothing for ${ro.idleTimeoutMs / 1000} s while Tuneloop was fetching ${describeSubject(subject)}: the connection stalled`,
        {},
        'run again, and a partial download resumes where it stopped; check the network connection, or on a slow one set TUNELOOP_HUB_IDLE_TIMEOUT_MS to the milliseconds to wait',
      ),
  );
  const signal = ro.signal !== undefined ? AbortSignal.any([ro.signal, idle.signal]) : idle.signal;
  let res: Response;
  try {
    res = await idle.guard(ro.fetch(url, { method, headers: h, redirect: 'manual', signal }));
  } catch (e) {
    rethrowIfAborted(ro, e);
    if (e instanceof HubStalledError) throw e;
    throw new HubUnreachableError(
      `cannot reach ${url.origin}: ${describeCause(e)}`,
      {},
      'check the network connection and HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only models already in the cache',
    );
  }
  if (res.body === null) return res;
  return new Response(watchedBody(res.body, idle), { status: res.status, statusText: res.statusText, headers: res.headers });
}

export interface HubResponse {
  /** The last response (not a redirect, or the one `stopAt` accepted). */
  res: Response;
  /** Headers of every response along the way, first to last; LFS metadata is on the Hub's redirect. */
  hops: Headers[];
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/**
 * Send a request and follow redirects by hand (so the token is dropped on other hosts and the
 * Hub's own redirect headers are kept), stopping early where `stopAt` says the metadata wanted
 * is already there. Bodies of the responses passed over are discarded.
 */
export async function hubRequest(
  url: string,
  method: 'GET' | 'HEAD',
  headers: Record<string, string>,
  ro: ResolvedHubOptions,
  subject: RequestSubject,
  stopAt: (res: Response) => boolean = () => false,
): Promise<HubResponse> {
  let current = new URL(url);
  const hops: Headers[] = [];
  for (let i = 0; ; i++) {
    const res = await sendOnce(current, method, headers, ro, subject);
    hops.push(res.headers);
    const location = res.headers.get('location');
    if (!isRedirect(res.status) || location === null || stopAt(res)) return { res, hops };
    await discard(res);
    if (i === MAX_REDIRECTS) throw new TuneloopError(`too many redirects fetching ${describeSubject(subject)} from ${url}`, {}, 'check HF_ENDPOINT');
    current = new URL(location, current);
    if (current.protocol !== 'https:' && current.protocol !== 'http:') {
      throw new TuneloopError(`the Hub redirected ${describeSubject(subject)} to an unsupported address ${current.protocol}`, {}, 'check HF_ENDPOINT');
    }
  }
}

/** Release a response's connection without reading its body. */
export async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // The body may already be closed or errored; there is nothing left to release.
  }
}

export function describeSubject(s: RequestSubject): string {
  return s.file !== undefined ? `${s.file} in ${s.repo}@${s.revision}` : `${s.repo}@${s.revision}`;
}

/** A TuneloopError for an HTTP error status, saying what to do about it. */
export function statusError(res: Response, subject: RequestSubject, ro: ResolvedHubOptions): TuneloopError {
  const code = res.headers.get('x-error-code') ?? '';
  const serverSays = res.headers.get('x-error-message');
  const detail = `HTTP ${res.status}${code ? ` ${code}` : ''}${serverSays ? `: ${serverSays}` : ''}`;
  const what = describeSubject(subject);
  if (res.status === 401 || res.status === 403) {
    const page = `${ro.endpoint}/${subject.repo}`;
    const hint =
      ro.token === undefined
        ? `set HF_TOKEN to a Hugging Face access token with read access (${ro.endpoint}/settings/tokens); the repo may be gated (accept its terms at ${page}) or private, or may not exist`
        : `the token in use (from the token option, HF_TOKEN or HUGGING_FACE_HUB_TOKEN) was refused: the repo may be gated (accept its terms at ${page}) or private and the token without access to it; set HF_TOKEN to a token that has access`;
    return new TuneloopError(`access to ${what} was refused (${detail})`, {}, hint);
  }
  if (res.status === 404) {
    const notFound =
      code === 'RevisionNotFound' ? `revision "${subject.revision}" of ${subject.repo}` : code === 'RepoNotFound' ? `repo ${subject.repo}` : what;
    return new TuneloopError(
      `${notFound} was not found on ${ro.endpoint} (${detail})`,
      {},
      'check the spelling of the repo id, the revision and the file name',
    );
  }
  if (res.status === 429) {
    return new TuneloopError(`the Hub is rate-limiting requests for ${what} (${detail})`, {}, 'wait a minute and try again; setting HF_TOKEN raises the limit');
  }
  return new TuneloopError(
    `the Hub answered ${detail} for ${what}`,
    {},
    res.status >= 500 ? 'the Hub may be having trouble; try again later' : 'check HF_ENDPOINT',
  );
}

/** Read a response body as JSON, refusing bodies over `limit` bytes (a broken server must not exhaust memory). */
export async function readJson(res: Response, subject: RequestSubject, limit = 64 * 1024 * 1024): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body !== null) {
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      // Throwing out of the loop cancels the body, releasing the connection.
      if (size > limit) {
        throw new TuneloopError(`the Hub's answer about ${describeSubject(subject)} is over ${limit} bytes`, {}, 'check HF_ENDPOINT');
      }
      chunks.push(chunk);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new TuneloopError(`the Hub's answer about ${describeSubject(subject)} is not JSON`, {}, 'check HF_ENDPOINT');
  }
}
