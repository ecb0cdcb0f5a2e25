import * as os from 'node:os';
import * as path from 'node:path';

/** Progress of one file's transfer; `bytes` counts from the start of the file, resumed bytes included. */
export interface HubProgress {
  /** The path of the file inside the repo (`onnx/model.onnx`). */
  file: string;
  bytes: number;
  /** Unknown when the server sends no size. */
  total: number | undefined;
}

export interface HubOptions {
  /** Default: `HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Sent as `Authorization: Bearer …` to the endpoint. Default: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`. */
  token?: string;
  /** Default: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub` (where huggingface_hub looks). */
  cacheDir?: string;
  /** Called as bytes arrive, for every chunk; throttle on the receiving side if needed. */
  onProgress?: (p: HubProgress) => void;
  /** Aborting stops the transfer and keeps the partial file, so the next attempt resumes. */
  signal?: AbortSignal;
  /** Default: the global fetch. Must support `redirect: 'manual'` returning the 3xx response, as Node's does. */
  fetch?: typeof fetch;
  /** Use only the cache, send no request. Default: `HF_HUB_OFFLINE` set to 1 (or true/yes/on, as huggingface_hub reads it). */
  offline?: boolean;
}

export interface ResolvedHubOptions {
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  onProgress: ((p: HubProgress) => void) | undefined;
  signal: AbortSignal | undefined;
  fetch: typeof fetch;
  offline: boolean;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** An empty variable counts as unset, as it does for huggingface_hub. */
function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
}

/** The cache folder huggingface_hub uses, so models a user already downloaded with it are found. */
export function defaultCacheDir(): string {
  const hubCache = env('HF_HUB_CACHE');
  if (hubCache !== undefined) return path.resolve(hubCache);
  const hfHome = env('HF_HOME');
  if (hfHome !== undefined) return path.resolve(hfHome, 'hub');
  return path.join(os.homedir(), '.cache', 'huggingface', 'hub');
}

/** Fill in defaults from the environment; read at call time so a changed environment takes effect. */
export function resolveHubOptions(opts: HubOptions = {}): ResolvedHubOptions {
  const endpoint = (opts.endpoint ?? env('HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const token = opts.token ?? env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  return {
    endpoint,
    token: token === '' ? undefined : token,
    cacheDir: opts.cacheDir !== undefined ? path.resolve(opts.cacheDir) : defaultCacheDir(),
    onProgress: opts.onProgress,
    signal: opts.signal,
    // Looked up at call time and called unbound: some fetch implementations refuse another `this`.
    fetch: opts.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    offline: opts.offline ?? isTruthy(env('HF_HUB_OFFLINE')),
  };
}
