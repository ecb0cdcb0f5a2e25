import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { TuneloopError } from '../../src/core/errors';
import {
  classifyRepo,
  downloadFile,
  fetchModel,
  filesToDownload,
  findCachedSnapshot,
  HubStalledError,
  listCachedModels,
  looksLikeHubId,
  parseHubId,
  resolveHubOptions,
  resolveRevision,
  type FetchModelOptions,
  type HubProgress,
} from '../../src/core/hub';
import { locateModel, resolveModel } from '../../src/core/models/resolve';
import { tempDir } from '../helpers';
import { fakeHubHome } from '../hub-cache';

// ---------------------------------------------------------------------------------------------
// A stand-in for the Hub on 127.0.0.1: the model API, /resolve/ with LFS files redirected to a
// second server (another origin, like the real CDN), tokens, error codes, and Range requests.
// ---------------------------------------------------------------------------------------------

/** Deterministic bytes, different for each seed. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const sha256 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');
/** The ETag the Hub gives a regular (non-LFS) file: its git blob id. */
const gitBlobId = (b: Buffer): string => crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const commitOf = (name: string): string => crypto.createHash('sha1').update(name).digest('hex');

interface MockRepo {
  sha: string;
  files: Map<string, Buffer>;
  /** Files stored in LFS: their /resolve/ answers with a redirect to the CDN. */
  lfs: Set<string>;
  /** When set, requests need `Authorization: Bearer <token>`. */
  token?: string;
  /** Extra names listed by the API but not served (a hostile server). */
  extraListed?: string[];
  /** ETag to send instead of the real one (a hostile server). */
  badEtag?: string;
}

interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  /** 0: never answered. */
  status: number;
  range: string | undefined;
  authorization: string | undefined;
}

function repo(name: string, files: Record<string, Buffer>, lfs: string[], extra: Partial<MockRepo> = {}): [string, MockRepo] {
  return [name, { sha: commitOf(name), files: new Map(Object.entries(files)), lfs: new Set(lfs), ...extra }];
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const TOKENIZER = { 'tokenizer.json': json({ model: { type: 'BPE' } }), 'tokenizer_config.json': json({ model_max_length: 64 }) };
const MODEL_ONNX = bytes(256 * 1024, 1); // several chunks, so a transfer can be cut half way
const TJS_FILES = {
  'config.json': json({ model_type: 'llama' }),
  'generation_config.json': json({ max_new_tokens: 8 }),
  ...TOKENIZER,
  'special_tokens_map.json': json({ eos_token: '</s>' }),
  'README.md': Buffer.from('# tiny\n'),
  '.gitattributes': Buffer.from('*.onnx filter=lfs\n'),
  'onnx/model.onnx': MODEL_ONNX,
  'onnx/model_quantized.onnx': bytes(4000, 2),
  'onnx/model_fp16.onnx': bytes(5000, 3),
  'onnx/model_q4.onnx': bytes(3000, 4),
  'onnx/model_q4.onnx_data': bytes(6000, 5),
};
const TJS_LFS = ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'onnx/model_fp16.onnx', 'onnx/model_q4.onnx', 'onnx/model_q4.onnx_data'];
const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];

const REPOS = new Map<string, MockRepo>([
  repo('tiny-org/tiny-tjs', TJS_FILES, TJS_LFS),
  repo('tiny-org/private-tjs', TJS_FILES, TJS_LFS, { token: 'hf_secret' }),
  repo(
    'tiny-org/sharded',
    {
      'config.json': json({ model_type: 'llama' }),
      ...TOKENIZER,
      'model.safetensors.index.json': json({ metadata: {}, weight_map: { 'a.weight': SHARDS[0], 'b.weight': SHARDS[1], 'c.weight': SHARDS[1] } }),
      [SHARDS[0]!]: bytes(3000, 4),
      [SHARDS[1]!]: bytes(3000, 5),
      'consolidated.safetensors': bytes(6000, 6),
      'pytorch_model.bin': bytes(6000, 7),
    },
    [...SHARDS, 'consolidated.safetensors', 'pytorch_model.bin'],
  ),
  repo('tiny-org/pickled', { 'config.json': json({ model_type: 'llama' }), ...TOKENIZER, 'pytorch_model.bin': bytes(6000, 8) }, ['pytorch_model.bin']),
  repo('tiny-org/empty', { 'README.md': Buffer.from('nothing here\n') }, []),
  repo('tiny-org/hostile-list', TJS_FILES, TJS_LFS, { extraListed: ['../../../escaped.txt'] }),
  repo('tiny-org/hostile-etag', TJS_FILES, TJS_LFS, { badEtag: '../../escaped' }),
]);

/** Per-test behaviours of the stand-in, keyed by repo file path. */
interface Behaviour {
  /** Send half of the next GET of these files, then cut the connection. */
  cutOnce: Set<string>;
  /** Send half of what each GET of these files asks for, then stall (until the client goes away). */
  stall: Set<string>;
  /** Ignore Range headers: answer 200 with the whole file. */
  ignoreRange: Set<string>;
  /** Serve these files with one byte changed (same length). */
  corrupt: Set<string>;
  /** Answer no request at all, on either server: the connection stays open and silent. */
  silent: boolean;
}

class StandIn {
  readonly log: LoggedRequest[] = [];
  behaviour: Behaviour = { cutOnce: new Set(), stall: new Set(), ignoreRange: new Set(), corrupt: new Set(), silent: false };
  private readonly hub = http.createServer((req, res) => this.onHub(req, res));
  private readonly cdn = http.createServer((req, res) => this.onCdn(req, res));
  /** sha256 → where the CDN finds the bytes. */
  private readonly lfsObjects = new Map<string, { file: string; data: Buffer }>();
  hubUrl = '';
  cdnUrl = '';

  async start(): Promise<void> {
    for (const r of REPOS.values()) for (const f of r.lfs) this.lfsObjects.set(sha256(r.files.get(f)!), { file: f, data: r.files.get(f)! });
    for (const s of [this.hub, this.cdn]) {
      s.requestTimeout = 5000; // bounded, whatever a test does
      s.headersTimeout = 5000;
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    }
    this.hubUrl = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    this.cdnUrl = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  reset(): void {
    this.log.length = 0;
    this.behaviour = { cutOnce: new Set(), stall: new Set(), ignoreRange: new Set(), corrupt: new Set(), silent: false };
  }

  /** Requests for file contents (not the model API), on either server. */
  fileRequests(): LoggedRequest[] {
    return this.log.filter((r) => r.server === 'cdn' || r.path.includes('/resolve/'));
  }

  private record(server: 'hub' | 'cdn', req: http.IncomingMessage, status: number): void {
    this.log.push({ server, method: req.method ?? '', path: req.url ?? '', status, range: req.headers.range, authorization: req.headers.authorization });
  }

  private fail(server: 'hub' | 'cdn', req: http.IncomingMessage, res: http.ServerResponse, status: number, code: string): void {
    this.record(server, req, status);
    res.writeHead(status, { 'X-Error-Code': code, 'X-Error-Message': code, 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: code }));
  }

  private onHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.behaviour.silent) return this.record('hub', req, 0);
    const parts = (req.url ?? '').split('?')[0]!.split('/').slice(1).map(decodeURIComponent);
    const api = parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision';
    const repoId = api ? `${parts[2]}/${parts[3]}` : `${parts[0]}/${parts[1]}`;
    const r = REPOS.get(repoId);
    if (!api && parts[2] !== 'resolve') return this.fail('hub', req, res, 404, 'NotFound');
    // Like the Hub: a private repo is indistinguishable from a missing one without the token.
    if (r === undefined) return this.fail('hub', req, res, 404, 'RepoNotFound');
    if (r.token !== undefined && req.headers.authorization !== `Bearer ${r.token}`) return this.fail('hub', req, res, 401, 'RepoNotFound');
    const revision = api ? parts.slice(5).join('/') : parts[3];
    if (revision !== 'main' && revision !== r.sha) return this.fail('hub', req, res, 404, 'RevisionNotFound');
    if (api) {
      const siblings = [...r.files.keys(), ...(r.extraListed ?? [])].map((rfilename) => ({ rfilename }));
      this.record('hub', req, 200);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify({ id: repoId, sha: r.sha, siblings }));
    }
    const file = parts.slice(4).join('/');
    const data = r.files.get(file);
    if (data === undefined) return this.fail('hub', req, res, 404, 'EntryNotFound');
    if (r.lfs.has(file)) {
      this.record('hub', req, 302);
      res.writeHead(302, {
        Location: `${this.cdnUrl}/lfs/${sha256(data)}`,
        'X-Linked-Etag': `"${r.badEtag ?? sha256(data)}"`,
        'X-Linked-Size': String(data.length),
        'X-Repo-Commit': r.sha,
        ETag: '"not-the-file-hash"',
      });
      return void res.end();
    }
    this.serve('hub', req, res, file, data, { ETag: `"${r.badEtag ?? gitBlobId(data)}"`, 'X-Repo-Commit': r.sha });
  }

  private onCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.behaviour.silent) return this.record('cdn', req, 0);
    const m = /^\/lfs\/([0-9a-f]{64})$/.exec(req.url ?? '');
    const obj = m ? this.lfsObjects.get(m[1]!) : undefined;
    if (obj === undefined) return this.fail('cdn', req, res, 404, 'NoSuchKey');
    // The CDN's ETag is its own business, not the file's sha256: the client must not use it.
    this.serve('cdn', req, res, obj.file, obj.data, { ETag: '"cdn-etag"' });
  }

  /** Answer with the bytes, honouring `Range: bytes=N-` unless told not to. */
  private serve(
    server: 'hub' | 'cdn',
    req: http.IncomingMessage,
    res: http.ServerResponse,
    file: string,
    original: Buffer,
    headers: Record<string, string>,
  ): void {
    const data = Buffer.from(original);
    if (this.behaviour.corrupt.has(file)) data[100] = data[100]! ^ 0xff;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m && !this.behaviour.ignoreRange.has(file) ? Number(m[1]) : 0;
    if (from >= data.length && from > 0) return this.fail(server, req, res, 416, 'RangeNotSatisfiable');
    const status = m && !this.behaviour.ignoreRange.has(file) ? 206 : 200;
    const body = data.subarray(from);
    this.record(server, req, status);
    res.writeHead(status, {
      ...headers,
      'Content-Length': String(body.length),
      ...(status === 206 ? { 'Content-Range': `bytes ${from}-${data.length - 1}/${data.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const half = body.subarray(0, Math.floor(data.length / 2));
    if (this.behaviour.cutOnce.delete(file)) {
      // Half the bytes, a moment for them to arrive, then the connection drops.
      res.write(half, () => setTimeout(() => res.socket?.destroy(), 50));
    } else if (this.behaviour.stall.has(file)) {
      res.write(body.subarray(0, Math.floor(body.length / 2))); // and never more: the client has to give up
    } else {
      res.end(body);
    }
  }
}

// ---------------------------------------------------------------------------------------------

const ENV_KEYS = ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_HOME', 'HF_HUB_OFFLINE', 'TUNELOOP_HUB_IDLE_TIMEOUT_MS'];
const TJS = REPOS.get('tiny-org/tiny-tjs')!;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

async function tuneloopError(p: Promise<unknown>): Promise<TuneloopError> {
  const e = await rejection(p);
  assert.ok(e instanceof TuneloopError, `expected a TuneloopError, got ${String(e)}`);
  return e;
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((p) => p.split(path.sep).join('/'))
    .sort();
}

describe('Hugging Face Hub ids', () => {
  it('parses org/name and org/name@revision, with main as the default revision', () => {
    assert.deepEqual(parseHubId('HuggingFaceTB/SmolLM2-135M-Instruct'), { repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: 'main' });
    assert.deepEqual(parseHubId('onnx-community/Qwen2.5-0.5B@v1.0'), { repo: 'onnx-community/Qwen2.5-0.5B', revision: 'v1.0' });
    assert.deepEqual(parseHubId('a_b/c.d@refs/pr/1'), { repo: 'a_b/c.d', revision: 'refs/pr/1' });
    assert.deepEqual(parseHubId(`org/name@${TJS.sha}`), { repo: 'org/name', revision: TJS.sha });
    assert.equal(looksLikeHubId('org/name@dev'), true);
  });

  it('rejects paths and malformed ids with an error saying what an id looks like', () => {
    const bad = [
      '',
      'gpt2',
      '/abs/path',
      '/a',
      'a/',
      'a//b',
      'a/b/c',
      '../a',
      './a',
      'a/..',
      'a/../b',
      'org/name@',
      'org/name@../x',
      'org/name@x/../y',
      'org/name@x//y',
      'org--x/y',
      'org/x..y',
      'C:\\models\\x',
      'a b/c',
      '-a/b',
      'org/name@has space',
    ];
    for (const s of bad) {
      assert.throws(
        () => parseHubId(s),
        (e: unknown) => e instanceof TuneloopError && /org\/name or org\/name@revision/.test(e.message),
        `accepted ${JSON.stringify(s)}`,
      );
      assert.equal(looksLikeHubId(s), false, s);
    }
  });
});

describe('Hub options', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() =>
    ENV_KEYS.forEach((k) => {
      saved[k] = process.env[k];
      delete process.env[k];
    }),
  );
  afterEach(() =>
    ENV_KEYS.forEach((k) => {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }),
  );

  it('default to huggingface.co, no token, the standard cache folder, online', () => {
    const o = resolveHubOptions();
    assert.equal(o.endpoint, 'https://huggingface.co');
    assert.equal(o.token, undefined);
    assert.equal(o.cacheDir, path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
    assert.equal(o.offline, false);
  });

  it('read HF_ENDPOINT, HF_TOKEN (before HUGGING_FACE_HUB_TOKEN), HF_HUB_CACHE, HF_HOME and HF_HUB_OFFLINE', () => {
    process.env.HF_ENDPOINT = 'http://mirror.invalid/';
    process.env.HUGGING_FACE_HUB_TOKEN = 'old';
    process.env.HF_HOME = '/srv/hf';
    process.env.HF_HUB_OFFLINE = '1';
    let o = resolveHubOptions();
    assert.deepEqual([o.endpoint, o.token, o.cacheDir, o.offline], ['http://mirror.invalid', 'old', path.resolve('/srv/hf/hub'), true]);
    process.env.HF_TOKEN = 'new';
    process.env.HF_HUB_CACHE = '/srv/cache';
    o = resolveHubOptions();
    assert.deepEqual([o.token, o.cacheDir], ['new', path.resolve('/srv/cache')]);
    o = resolveHubOptions({ token: 'explicit', cacheDir: '/x', endpoint: 'http://e', offline: false });
    assert.deepEqual([o.endpoint, o.token, o.cacheDir, o.offline], ['http://e', 'explicit', path.resolve('/x'), false]);
  });

  it('wait 30 s on a silent connection unless TUNELOOP_HUB_IDLE_TIMEOUT_MS or the option says otherwise, and refuse nonsense', () => {
    assert.equal(resolveHubOptions().idleTimeoutMs, 30_000);
    process.env.TUNELOOP_HUB_IDLE_TIMEOUT_MS = '1500';
    assert.equal(resolveHubOptions().idleTimeoutMs, 1500);
    assert.equal(resolveHubOptions({ idleTimeoutMs: 250 }).idleTimeoutMs, 250);
    // NaN, 0 or more than setTimeout takes would fire at once, as if every connection stalled.
    for (const bad of ['soon', '0', '-5', '1e10']) {
      process.env.TUNELOOP_HUB_IDLE_TIMEOUT_MS = bad;
      assert.throws(
        () => resolveHubOptions(),
        (e: unknown) => e instanceof TuneloopError && /TUNELOOP_HUB_IDLE_TIMEOUT_MS must be a number of milliseconds/.test(e.message),
        bad,
      );
    }
  });
});

describe('classifying a repo by its files', () => {
  const tjs = Object.keys(TJS_FILES);
  it('tells transformers.js, safetensors, pickle-only and unusable repos apart', () => {
    assert.equal(classifyRepo(tjs), 'transformers.js');
    assert.equal(classifyRepo(tjs.filter((f) => f !== 'tokenizer_config.json')), 'none', 'tokenizer_config.json is required');
    assert.equal(classifyRepo(['config.json', 'model.safetensors', 'pytorch_model.bin']), 'safetensors');
    assert.equal(classifyRepo(['config.json', 'model.safetensors.index.json']), 'safetensors');
    assert.equal(classifyRepo(['config.json', 'pytorch_model.bin', 'tokenizer.json']), 'pickle-only');
    assert.equal(classifyRepo(['model.ckpt']), 'pickle-only');
    assert.equal(classifyRepo(['README.md', 'config.json']), 'none');
  });

  it('picks one ONNX variant with its external data, and the optional files that exist', () => {
    const withData = [...tjs, 'onnx/model.onnx_data', 'onnx/model_fp16.onnx_data'];
    assert.deepEqual(filesToDownload('transformers.js', withData), [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'special_tokens_map.json',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
    ]);
    assert.deepEqual(filesToDownload('transformers.js', withData, { dtype: 'q8' }).slice(-1), ['onnx/model_quantized.onnx']);
    assert.deepEqual(filesToDownload('transformers.js', withData, { dtype: 'fp16' }).slice(-2), ['onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data']);
    const minimal = ['config.json', ...Object.keys(TOKENIZER), 'onnx/model_quantized.onnx'];
    assert.deepEqual(filesToDownload('transformers.js', minimal, { dtype: 'q8' }), [...minimal]);
    assert.throws(() => filesToDownload('transformers.js', minimal, { source: 'repo x/y' }), /repo x\/y has no onnx\/model\.onnx.*model_quantized\.onnx/);
  });

  it('takes the shards the safetensors index names, or model.safetensors, never pickles', () => {
    const files = [...REPOS.get('tiny-org/sharded')!.files.keys()];
    const index = { weight_map: { a: SHARDS[1]!, b: SHARDS[0]!, c: SHARDS[1]! } };
    assert.deepEqual(filesToDownload('safetensors', files, { index }), [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'model.safetensors.index.json',
      ...SHARDS,
    ]);
    assert.deepEqual(filesToDownload('safetensors', ['config.json', 'model.safetensors', 'consolidated.safetensors', 'pytorch_model.bin']), [
      'config.json',
      'model.safetensors',
    ]);
    assert.throws(() => filesToDownload('safetensors', files, { index: { weight_map: { a: 'gone.safetensors' } } }), /gone\.safetensors/);
    assert.deepEqual(filesToDownload('pickle-only', ['pytorch_model.bin']), []);
  });
});

describe('Hub downloads (against a local stand-in for the Hub)', function () {
  this.timeout(5000);
  const server = new StandIn();
  const saved: Record<string, string | undefined> = {};
  // One temporary root (tempDir registers an exit handler per call), a fresh cache folder inside it per test.
  const root = tempDir('tuneloop-hub-');
  const freshCache = (): string => fs.mkdtempSync(path.join(root, 'cache-'));
  let cacheDir = '';

  /** Options against the stand-in, with a fresh cache folder per test and every request bounded in time. */
  const opts = (extra: FetchModelOptions = {}): FetchModelOptions => ({
    endpoint: server.hubUrl,
    cacheDir,
    ...extra,
    signal: AbortSignal.any([AbortSignal.timeout(4000), ...(extra.signal ? [extra.signal] : [])]),
  });
  /** Options with no outside timeout: only the client's idle timeout, or the test's own signal, ends a stall. */
  const unbounded = (extra: FetchModelOptions = {}): FetchModelOptions => ({ endpoint: server.hubUrl, cacheDir, ...extra });
  const repoDir = (repo: string): string => path.join(cacheDir, `models--${repo.replace('/', '--')}`);

  before(() => server.start());
  after(() => server.stop());
  beforeEach(() => {
    server.reset();
    cacheDir = freshCache();
    ENV_KEYS.forEach((k) => {
      saved[k] = process.env[k];
      delete process.env[k];
    });
  });
  afterEach(() =>
    ENV_KEYS.forEach((k) => {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }),
  );

  it('resolves a revision to its commit and files, and records refs/main atomically', async () => {
    const r = await resolveRevision('tiny-org/tiny-tjs', 'main', opts());
    assert.equal(r.sha, TJS.sha);
    assert.deepEqual(r.files.sort(), [...TJS.files.keys()].sort());
    assert.equal(fs.readFileSync(path.join(repoDir('tiny-org/tiny-tjs'), 'refs', 'main'), 'utf8'), TJS.sha);
    assert.deepEqual(walk(path.join(repoDir('tiny-org/tiny-tjs'), 'refs')), ['main'], 'no temporary file left');
    assert.equal(server.log[0]!.authorization, undefined, 'no token, no Authorization header');
  });

  it('downloads a regular file into blobs/<git blob id> and links it into the snapshot', async () => {
    const p = await downloadFile('tiny-org/tiny-tjs', TJS.sha, 'config.json', opts());
    const data = TJS.files.get('config.json')!;
    assert.equal(p, path.join(repoDir('tiny-org/tiny-tjs'), 'snapshots', TJS.sha, 'config.json'));
    assert.equal(fs.readlinkSync(p), `../../blobs/${gitBlobId(data)}`);
    assert.deepEqual(fs.readFileSync(p), data);
    assert.deepEqual(walk(path.join(repoDir('tiny-org/tiny-tjs'), 'blobs')), [gitBlobId(data)]);
  });

  it('follows an LFS redirect, names the blob by X-Linked-Etag and keeps the token from the CDN', async () => {
    const p = await downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts({ token: 'hf_public' }));
    assert.equal(fs.readlinkSync(p), `../../../blobs/${sha256(MODEL_ONNX)}`);
    assert.equal(sha256(fs.readFileSync(p)), sha256(MODEL_ONNX));
    const hub = server.log.filter((r) => r.server === 'hub');
    const cdn = server.log.filter((r) => r.server === 'cdn');
    assert.deepEqual(
      hub.map((r) => [r.method, r.status]),
      [
        ['HEAD', 302],
        ['GET', 302],
      ],
    );
    assert.ok(
      hub.every((r) => r.authorization === 'Bearer hf_public'),
      'the Hub gets the token',
    );
    assert.deepEqual(
      cdn.map((r) => [r.method, r.status, r.authorization]),
      [['GET', 200, undefined]],
      'the CDN never sees it',
    );
  });

  it('says to set HF_TOKEN when a private repo refuses access, and works with the token from the option or HF_TOKEN', async () => {
    const e = await tuneloopError(fetchModel('tiny-org/private-tjs', opts()));
    assert.match(e.message, /tiny-org\/private-tjs/);
    assert.match(e.message, /HTTP 401/);
    assert.match(e.hint ?? '', /set HF_TOKEN/);
    assert.match(e.hint ?? '', /gated.*private/);
    const wrong = await tuneloopError(fetchModel('tiny-org/private-tjs', opts({ token: 'hf_wrong' })));
    assert.match(wrong.hint ?? '', /token in use .* was refused/);

    const viaOption = await fetchModel('tiny-org/private-tjs', opts({ token: 'hf_secret' }));
    assert.equal(viaOption.kind, 'transformers.js');
    process.env.HF_TOKEN = 'hf_secret';
    cacheDir = freshCache();
    const viaEnv = await fetchModel('tiny-org/private-tjs', opts());
    assert.ok(fs.existsSync(path.join(viaEnv.dir, 'onnx', 'model.onnx')));
    assert.ok(server.log.some((r) => r.authorization === 'Bearer hf_secret' && r.status === 200));
  });

  it('the model resolver downloads a Hub model only when allowed, then finds it in the cache with no request', async () => {
    const hub = { endpoint: server.hubUrl, cacheDir };
    const refused = await tuneloopError(resolveModel('tiny-org/tiny-tjs', { hub, downloadHint: 'run with --download' }));
    assert.match(refused.message, /model "tiny-org\/tiny-tjs" looks like a Hub id, but downloading is not enabled here/);
    assert.match(refused.hint ?? '', /^run with --download, or give a local model folder$/);
    assert.deepEqual(server.log, [], 'nothing asked without permission');
    const progress: string[] = [];
    const m = await resolveModel('tiny-org/tiny-tjs', { hub, allowDownload: true, onProgress: (line) => progress.push(line) });
    assert.deepEqual(m, {
      dir: path.join(repoDir('tiny-org/tiny-tjs'), 'snapshots', TJS.sha),
      hub: { repo: 'tiny-org/tiny-tjs', commit: TJS.sha, kind: 'transformers.js' },
    });
    assert.ok(
      progress.some((line) => /^downloading tiny-org\/tiny-tjs: onnx\/model\.onnx /.test(line)),
      progress.join('\n'),
    );
    server.reset();
    assert.deepEqual(await resolveModel('tiny-org/tiny-tjs', { hub }), m);
    assert.deepEqual(await resolveModel('tiny-org/tiny-tjs', { hub, allowDownload: true }), m, 'the cache first, even where a download is allowed');
    assert.deepEqual(server.log, []);
  });

  it('says what was not found: the repo, the revision or the file', async () => {
    assert.match((await tuneloopError(fetchModel('tiny-org/missing', opts()))).message, /repo tiny-org\/missing was not found/);
    assert.match((await tuneloopError(fetchModel('tiny-org/tiny-tjs@nope', opts()))).message, /revision "nope" of tiny-org\/tiny-tjs was not found/);
    const e = await tuneloopError(downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/absent.onnx', opts()));
    assert.match(e.message, /onnx\/absent\.onnx in tiny-org\/tiny-tjs@[0-9a-f]{40} was not found .*HTTP 404 EntryNotFound/);
    assert.deepEqual(walk(path.join(repoDir('tiny-org/tiny-tjs'), 'blobs')), []);
  });

  it('resumes with a Range request after the connection drops half way, ending byte-identical', async () => {
    server.behaviour.cutOnce.add('onnx/model.onnx');
    const p = await downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts());
    const gets = server.log.filter((r) => r.server === 'cdn' && r.method === 'GET');
    assert.deepEqual(
      gets.map((r) => [r.status, r.range]),
      [
        [200, undefined],
        [206, `bytes=${MODEL_ONNX.length / 2}-`],
      ],
    );
    const got = fs.readFileSync(p);
    assert.ok(got.equals(MODEL_ONNX), 'byte-identical');
    assert.equal(sha256(got), sha256(MODEL_ONNX));
    assert.deepEqual(walk(path.join(repoDir('tiny-org/tiny-tjs'), 'blobs')), [sha256(MODEL_ONNX)], 'no .incomplete or .lock left');
  });

  it('starts over when the server answers a Range request with the whole file', async () => {
    const blobs = path.join(repoDir('tiny-org/tiny-tjs'), 'blobs');
    fs.mkdirSync(blobs, { recursive: true });
    fs.writeFileSync(path.join(blobs, `${sha256(MODEL_ONNX)}.incomplete`), bytes(1000, 99)); // not the file's first bytes
    server.behaviour.ignoreRange.add('onnx/model.onnx');
    const p = await downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts());
    assert.deepEqual(
      server.log.filter((r) => r.server === 'cdn').map((r) => [r.status, r.range]),
      [[200, 'bytes=1000-']],
    );
    assert.ok(fs.readFileSync(p).equals(MODEL_ONNX));
  });

  it('refuses an LFS file whose bytes do not match its sha256, deleting them', async () => {
    server.behaviour.corrupt.add('onnx/model.onnx');
    const e = await tuneloopError(downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts()));
    assert.match(e.message, new RegExp(`onnx/model\\.onnx in tiny-org/tiny-tjs@${TJS.sha} has sha256 [0-9a-f]{64}, not ${sha256(MODEL_ONNX)}`));
    assert.deepEqual(walk(path.join(repoDir('tiny-org/tiny-tjs'), 'blobs')), [], 'no blob, no partial file, no lock');
    assert.deepEqual(walk(path.join(repoDir('tiny-org/tiny-tjs'), 'snapshots')), []);
  });

  it('leaves a blob alone while a live process downloads it, and takes over the lock of a dead one', async () => {
    const blobs = path.join(repoDir('tiny-org/tiny-tjs'), 'blobs');
    const lock = path.join(blobs, `${sha256(MODEL_ONNX)}.lock`);
    fs.mkdirSync(blobs, { recursive: true });
    fs.writeFileSync(lock, String(process.pid));
    const e = await tuneloopError(downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts()));
    assert.match(e.message, new RegExp(`being downloaded by process ${process.pid}`));
    assert.equal(server.log.filter((r) => r.method === 'GET').length, 0);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    fs.writeFileSync(lock, String(dead));
    assert.ok(fs.readFileSync(await downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts())).equals(MODEL_ONNX));
    assert.ok(!fs.existsSync(lock));
  });

  it('reports progress up to the total', async () => {
    const seen: HubProgress[] = [];
    await downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts({ onProgress: (p) => seen.push(p) }));
    assert.ok(seen.length > 2, `${seen.length} progress reports`);
    assert.ok(seen.every((p) => p.file === 'onnx/model.onnx' && p.total === MODEL_ONNX.length));
    assert.ok(
      seen.every((p, i) => i === 0 || p.bytes >= seen[i - 1]!.bytes),
      'never goes back',
    );
    assert.equal(seen.at(-1)!.bytes, MODEL_ONNX.length);
  });

  it('stops on abort, keeping the .incomplete file and no snapshot file, and resumes from it later', async () => {
    server.behaviour.stall.add('onnx/model.onnx');
    const controller = new AbortController();
    const onProgress = (p: HubProgress): void => {
      if (p.bytes > 0) controller.abort();
    };
    const e = await rejection(downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts({ signal: controller.signal, onProgress })));
    assert.equal((e as Error).name, 'AbortError');
    const blobs = path.join(repoDir('tiny-org/tiny-tjs'), 'blobs');
    const incomplete = path.join(blobs, `${sha256(MODEL_ONNX)}.incomplete`);
    const kept = fs.statSync(incomplete).size;
    assert.ok(kept > 0 && kept < MODEL_ONNX.length, `kept ${kept} bytes`);
    assert.deepEqual(walk(blobs), [`${sha256(MODEL_ONNX)}.incomplete`], 'no blob, no lock');
    assert.deepEqual(walk(path.join(repoDir('tiny-org/tiny-tjs'), 'snapshots')), [], 'no snapshot file');

    server.reset();
    const p = await downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts());
    assert.deepEqual(
      server.log.filter((r) => r.server === 'cdn').map((r) => r.range),
      [`bytes=${kept}-`],
    );
    assert.ok(fs.readFileSync(p).equals(MODEL_ONNX));
  });

  it('gives up on a server that never answers, saying what it was fetching; fetchModel then uses the cache', async () => {
    const m = await fetchModel('tiny-org/tiny-tjs', opts());
    server.reset();
    server.behaviour.silent = true;
    const started = Date.now();
    const e = await tuneloopError(resolveRevision('tiny-org/tiny-tjs', 'main', unbounded({ idleTimeoutMs: 300 })));
    const waited = Date.now() - started;
    assert.ok(e instanceof HubStalledError, e.message);
    assert.match(e.message, /^http:\/\/127\.0\.0\.1:\d+ sent nothing for 0\.3 s while Tuneloop was fetching tiny-org\/tiny-tjs@main: the connection stalled/);
    assert.match(e.hint ?? '', /run again.*resumes.*TUNELOOP_HUB_IDLE_TIMEOUT_MS/);
    assert.ok(waited >= 290 && waited < 3000, `gave up after ${waited} ms`);
    assert.deepEqual(
      server.log.map((r) => [r.method, r.status]),
      [['GET', 0]],
    );
    assert.deepEqual(await fetchModel('tiny-org/tiny-tjs', unbounded({ idleTimeoutMs: 300 })), m, 'as when the endpoint cannot be reached');
  });

  it('gives up on a download that stalls half way, each retry resuming where the last one stopped, and the next run resumes', async function () {
    this.timeout(10_000); // four attempts of 300 ms and the pauses between them
    server.behaviour.stall.add('onnx/model.onnx');
    const e = await tuneloopError(downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', unbounded({ idleTimeoutMs: 300 })));
    assert.ok(e instanceof HubStalledError, e.message);
    assert.match(e.message, new RegExp(`sent nothing for 0\\.3 s while Tuneloop was fetching onnx/model\\.onnx in tiny-org/tiny-tjs@${TJS.sha}`));
    const n = MODEL_ONNX.length;
    const cdnRanges = (): (string | undefined)[] => server.log.filter((r) => r.server === 'cdn').map((r) => r.range);
    assert.deepEqual(cdnRanges(), [undefined, `bytes=${n / 2}-`, `bytes=${(3 * n) / 4}-`, `bytes=${(7 * n) / 8}-`]);
    const blobs = path.join(repoDir('tiny-org/tiny-tjs'), 'blobs');
    assert.equal(fs.statSync(path.join(blobs, `${sha256(MODEL_ONNX)}.incomplete`)).size, (15 * n) / 16);
    assert.deepEqual(walk(blobs), [`${sha256(MODEL_ONNX)}.incomplete`], 'no blob, no lock');
    assert.deepEqual(walk(path.join(repoDir('tiny-org/tiny-tjs'), 'snapshots')), [], 'no snapshot file');

    server.reset();
    const p = await downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', opts());
    assert.deepEqual(cdnRanges(), [`bytes=${(15 * n) / 16}-`]);
    assert.ok(fs.readFileSync(p).equals(MODEL_ONNX));
  });

  it('stops at once on abort while the server is silent, or stalls in the middle of a body', async () => {
    const abortSoon = (): AbortSignal => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      return controller.signal;
    };
    const patient = { idleTimeoutMs: 60_000 }; // only the signal can end these in time
    server.behaviour.silent = true;
    let started = Date.now();
    const silent = await rejection(resolveRevision('tiny-org/tiny-tjs', 'main', unbounded({ ...patient, signal: abortSoon() })));
    assert.equal((silent as Error).name, 'AbortError');
    assert.ok(Date.now() - started < 1500, `stopped after ${Date.now() - started} ms`);

    server.reset();
    server.behaviour.stall.add('onnx/model.onnx');
    started = Date.now();
    const stalled = await rejection(downloadFile('tiny-org/tiny-tjs', TJS.sha, 'onnx/model.onnx', unbounded({ ...patient, signal: abortSoon() })));
    assert.equal((stalled as Error).name, 'AbortError');
    assert.ok(Date.now() - started < 1500, `stopped after ${Date.now() - started} ms`);
    assert.deepEqual(
      server.log.filter((r) => r.server === 'cdn').map((r) => [r.status, r.range]),
      [[200, undefined]],
      'stopped in the first, stalled, transfer',
    );
    assert.equal(fs.statSync(path.join(repoDir('tiny-org/tiny-tjs'), 'blobs', `${sha256(MODEL_ONNX)}.incomplete`)).size, MODEL_ONNX.length / 2);
  });

  it('fetches a transformers.js model: only the files it needs, in the standard layout; a second fetch downloads nothing', async () => {
    const m = await fetchModel('tiny-org/tiny-tjs', opts());
    assert.deepEqual(m, {
      dir: path.join(repoDir('tiny-org/tiny-tjs'), 'snapshots', TJS.sha),
      kind: 'transformers.js',
      commit: TJS.sha,
      repo: 'tiny-org/tiny-tjs',
    });
    const wanted = ['config.json', 'generation_config.json', 'onnx/model.onnx', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'];
    assert.deepEqual(
      walk(m.dir).filter((f) => f !== 'onnx'),
      wanted,
    );
    for (const f of wanted) {
      const link = fs.readlinkSync(path.join(m.dir, f));
      assert.match(link, /^(\.\.\/)+blobs\/[0-9a-f]{40,64}$/, f);
      assert.ok(fs.readFileSync(path.join(m.dir, f)).equals(TJS.files.get(f)!), f);
    }
    assert.equal(fs.readFileSync(path.join(repoDir('tiny-org/tiny-tjs'), 'refs', 'main'), 'utf8'), TJS.sha);
    assert.deepEqual(
      server
        .fileRequests()
        .filter((r) => r.method === 'GET' && r.server === 'hub')
        .map((r) => r.path.split('/resolve/')[1]!.slice(41))
        .sort(),
      wanted,
    );

    server.reset();
    assert.deepEqual(await fetchModel('tiny-org/tiny-tjs', opts()), m);
    assert.deepEqual(server.fileRequests(), [], 'no file requests the second time');
    assert.equal(server.log.length, 1, 'only the revision lookup');
  });

  it('fetches the q8 variant when asked', async () => {
    const m = await fetchModel('tiny-org/tiny-tjs', opts({ dtype: 'q8' }));
    assert.deepEqual(walk(path.join(m.dir, 'onnx')), ['model_quantized.onnx']);
  });

  it('fetches the q4 variant with its external data when the resolver is asked for q4', async () => {
    const m = await resolveModel('tiny-org/tiny-tjs', { hub: { endpoint: server.hubUrl, cacheDir: tempDir() }, allowDownload: true, dtype: 'q4' });
    assert.deepEqual(walk(path.join(m.dir, 'onnx')), ['model_q4.onnx', 'model_q4.onnx_data']);
  });

  it('fetches a sharded safetensors checkpoint: the index, then the shards it names', async () => {
    const m = await fetchModel('tiny-org/sharded', opts());
    assert.equal(m.kind, 'safetensors');
    assert.deepEqual(walk(m.dir), ['config.json', 'model.safetensors.index.json', ...SHARDS, 'tokenizer.json', 'tokenizer_config.json'].sort());
    assert.ok(!server.log.some((r) => /consolidated|pytorch_model/.test(r.path)), 'neither the consolidated copy nor the pickle was requested');
  });

  it('refuses a pickle-only repo without requesting its .bin', async () => {
    const e = await tuneloopError(fetchModel('tiny-org/pickled', opts()));
    assert.match(e.message, /tiny-org\/pickled@main has only pickled weights \(pytorch_model\.bin\).*never downloads or loads/);
    assert.match(e.hint ?? '', /safetensors/);
    assert.deepEqual(server.fileRequests(), []);
    assert.ok(!server.log.some((r) => r.path.includes('pytorch_model.bin')));
  });

  it('names the repo when it holds no usable model', async () => {
    assert.match((await tuneloopError(fetchModel('tiny-org/empty', opts()))).message, /tiny-org\/empty@main holds no model/);
  });

  it('refuses file names and ETags that would leave the cache folder', async () => {
    const listed = await tuneloopError(fetchModel('tiny-org/hostile-list', opts()));
    assert.match(listed.message, /unsafe name "\.\.\/\.\.\/\.\.\/escaped\.txt"/);
    const etag = await tuneloopError(fetchModel('tiny-org/hostile-etag', opts()));
    assert.match(etag.message, /unusable \("\.\.\/\.\.\/escaped"\) ETag/);
    assert.deepEqual(
      walk(cacheDir).filter((f) => f.includes('escaped')),
      [],
    );
    assert.ok(!fs.existsSync(path.join(cacheDir, '..', 'escaped')));
  });

  it('rejects a bad file path before any request', async () => {
    for (const f of ['../x', '/etc/passwd', 'a//b', 'a\\b']) {
      await tuneloopError(downloadFile('tiny-org/tiny-tjs', TJS.sha, f, opts()));
    }
    assert.deepEqual(server.log, []);
  });

  describe('without the network', () => {
    const commit = commitOf('hand-made');
    const handMade = (): string => {
      // The layout huggingface_hub leaves behind, built by hand: blobs, relative links, refs/main.
      const root = path.join(cacheDir, 'models--someone--cached');
      const files: Record<string, Buffer> = { ...TOKENIZER, 'config.json': json({ model_type: 'llama' }), 'onnx/model.onnx': bytes(100, 5) };
      for (const [f, data] of Object.entries(files)) {
        const blob = path.join(root, 'blobs', sha256(data));
        fs.mkdirSync(path.dirname(blob), { recursive: true });
        fs.writeFileSync(blob, data);
        const target = path.join(root, 'snapshots', commit, f);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.symlinkSync(path.relative(path.dirname(target), blob), target);
      }
      fs.writeFileSync(path.join(root, 'blobs', 'deadbeef.incomplete'), bytes(7, 1));
      fs.mkdirSync(path.join(root, 'refs'));
      fs.writeFileSync(path.join(root, 'refs', 'main'), `${commit}\n`);
      return path.join(root, 'snapshots', commit);
    };
    /** A fetch that records being called and fails: nothing may reach the network. */
    let calls = 0;
    const noFetch = (async () => {
      calls++;
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    beforeEach(() => {
      calls = 0;
    });

    it('finds a model in a hand-made cache folder when offline, by branch or commit, with no server', async () => {
      const dir = handMade();
      const o = { cacheDir, endpoint: 'http://127.0.0.1:9', fetch: noFetch };
      assert.deepEqual(await fetchModel('someone/cached', { ...o, offline: true }), { dir, kind: 'transformers.js', commit, repo: 'someone/cached' });
      process.env.HF_HUB_OFFLINE = '1';
      assert.equal((await fetchModel(`someone/cached@${commit}`, o)).dir, dir);
      assert.equal(await downloadFile('someone/cached', 'main', 'onnx/model.onnx', o), path.join(dir, 'onnx', 'model.onnx'));
      assert.match((await tuneloopError(downloadFile('someone/cached', 'main', 'onnx/model_fp16.onnx', o))).message, /not in the Hugging Face cache/);
      assert.equal(calls, 0);
      assert.equal(findCachedSnapshot('someone/cached', 'main', cacheDir), dir);
      assert.equal(findCachedSnapshot('someone/cached', commit, cacheDir), dir);
      assert.equal(findCachedSnapshot('someone/cached', 'dev', cacheDir), undefined);
      assert.equal(findCachedSnapshot('someone/other', 'main', cacheDir), undefined);
    });

    it('says how to download a model the cache does not have', async () => {
      const e = await tuneloopError(fetchModel('someone/missing', { cacheDir, offline: true, fetch: noFetch }));
      assert.match(e.message, /someone\/missing@main is not in the Hugging Face cache .* offline mode is on/);
      assert.match(e.hint ?? '', /huggingface-cli download someone\/missing/);
      assert.equal(calls, 0);
    });

    it('falls back to the cache when the endpoint cannot be reached', async () => {
      const dir = handMade();
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const endpoint = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      assert.equal((await fetchModel('someone/cached', { cacheDir, endpoint })).dir, dir);
      const e = await tuneloopError(fetchModel('someone/missing', { cacheDir, endpoint }));
      assert.match(e.message, /not in the Hugging Face cache .* cannot be reached .*ECONNREFUSED/);
    });

    it('lists the cached models with their revisions, snapshots and size', async () => {
      handMade();
      await fetchModel('tiny-org/tiny-tjs', opts({ dtype: 'q8' }));
      const list = listCachedModels(cacheDir);
      assert.deepEqual(
        list.map((m) => [m.repo, m.revisions, m.snapshots]),
        [
          ['someone/cached', [{ name: 'main', commit }], [commit]],
          ['tiny-org/tiny-tjs', [{ name: 'main', commit: TJS.sha }], [TJS.sha]],
        ],
      );
      const cachedBytes = Buffer.concat([...Object.values(TOKENIZER), json({ model_type: 'llama' }), bytes(100, 5)]).length;
      assert.equal(list[0]!.bytes, cachedBytes, 'complete blobs only');
      const tjsBytes = ['config.json', 'generation_config.json', 'special_tokens_map.json', ...Object.keys(TOKENIZER), 'onnx/model_quantized.onnx'].reduce(
        (n, f) => n + TJS.files.get(f)!.length,
        0,
      );
      assert.equal(list[1]!.bytes, tjsBytes);
      assert.deepEqual(listCachedModels(path.join(cacheDir, 'absent')), []);
    });
  });
});

describe('one model resolver (models/resolve.ts): a local folder, else the Hugging Face cache, else a download where allowed', () => {
  const saved: Record<string, string | undefined> = {};
  beforeEach(() =>
    ENV_KEYS.forEach((k) => {
      saved[k] = process.env[k];
      delete process.env[k];
    }),
  );
  afterEach(() =>
    ENV_KEYS.forEach((k) => {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }),
  );
  const hf = fakeHubHome('test-org/tiny-llama');
  const ws = tempDir();

  it('finds a Hub id in the cache HF_HOME names, offline; a local folder of that name comes first', async () => {
    process.env.HF_HOME = hf.home;
    process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
    assert.deepEqual(locateModel('test-org/tiny-llama', ws), { dir: hf.snapshot, local: false });
    const m = await resolveModel('test-org/tiny-llama', { base: ws });
    assert.equal(m.dir, hf.snapshot);
    assert.deepEqual(m.hub, { repo: 'test-org/tiny-llama', commit: path.basename(hf.snapshot), kind: 'safetensors' });
    const local = path.join(ws, 'test-org', 'tiny-llama');
    fs.mkdirSync(local, { recursive: true });
    try {
      assert.deepEqual(locateModel('test-org/tiny-llama', ws), { dir: local, local: true });
      assert.deepEqual(await resolveModel('test-org/tiny-llama', { base: ws }), { dir: local });
    } finally {
      fs.rmSync(path.join(ws, 'test-org'), { recursive: true });
    }
    assert.equal(locateModel('test-org/other', ws), undefined);
    assert.equal(locateModel('models/x', undefined), undefined, 'without a base, only an absolute path names a folder');
  });

  it('says what is missing, and what allows it, in one message for every caller', async () => {
    process.env.HF_HOME = hf.home;
    const e = await tuneloopError(resolveModel('test-org/absent', { base: ws, place: { file: path.join(ws, 'p.prompt.yml') } }));
    assert.equal(
      e.message,
      `${path.join(ws, 'p.prompt.yml')}: model "test-org/absent" looks like a Hub id, but downloading is not enabled here and the Hugging Face cache (${hf.cacheDir}) does not hold it (allow downloading it (it needs network access once), or give a local model folder)`,
    );
    process.env.HF_HUB_OFFLINE = '1';
    assert.match(
      (await tuneloopError(resolveModel('test-org/absent', { allowDownload: true }))).message,
      /not in the Hugging Face cache .* offline mode is on/,
    );
    assert.match((await tuneloopError(resolveModel('./nowhere', { base: ws }))).message, new RegExp(`${path.join(ws, 'nowhere')}: no such folder`));
    assert.match(
      (await tuneloopError(resolveModel('./nowhere', { base: ws, place: { file: 'p.prompt.yml' } }))).message,
      /^p\.prompt\.yml: model "\.\/nowhere" is not a folder \(looked for .*nowhere\)/,
    );
    fs.writeFileSync(path.join(ws, 'a-file'), 'x');
    assert.match((await tuneloopError(resolveModel('a-file', { base: ws }))).message, /a-file: is a file; expected a model folder/);
  });

  it('refuses a cached snapshot that lacks the weights (a partial download), naming it', async () => {
    const partial = fakeHubHome('test-org/partial');
    fs.rmSync(path.join(partial.snapshot, 'model.safetensors'));
    const e = await tuneloopError(resolveModel('test-org/partial', { hub: { cacheDir: partial.cacheDir } }));
    assert.match(e.message, /the cached snapshot of test-org\/partial@main .* holds no model Tuneloop can use/);
  });
});
