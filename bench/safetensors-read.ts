import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile, type Tensor, writeSafetensors } from '../src/core/safetensors';

/**
 * Peak memory of reading a whole safetensors file: a fresh process records its peak RSS, reads every
 * tensor into memory (and keeps them), and records its peak RSS again. The increase, divided by the
 * file's size, is the figure the reader is held to (at most 1.2).
 *
 *   node out/bench/safetensors-read.js [--mib 512]
 */
export interface ReadRssResult {
  readonly fileBytes: number;
  readonly tensorBytes: number;
  readonly peakRssBefore: number;
  readonly peakRssAfter: number;
  /** (peak after − peak before) ÷ file size. */
  readonly ratio: number;
  readonly seconds: number;
}

/** Write a file of `mib` MiB of float32 tensors (8 MiB each), streaming so the writer stays small. */
export function makeLargeFile(file: string, mib: number): void {
  const perTensor = 8 * 1024 * 1024;
  const count = Math.ceil((mib * 1024 * 1024) / perTensor);
  const tensors = new Map(
    Array.from({ length: count }, (_, i) => [
      `layers.${i}.weight`,
      { dtype: 'F32' as const, shape: [perTensor / 4 / 1024, 1024], data: () => new Uint8Array(perTensor).fill(i & 0xff) },
    ]),
  );
  writeSafetensors(file, tensors);
}

/** Measure in a child process, so that nothing this process holds counts. */
export function measureReadRss(file: string): ReadRssResult {
  const r = spawnSync(process.execPath, [__filename, '--measure', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`measuring process failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ReadRssResult;
}

function measureHere(file: string): ReadRssResult {
  const started = process.hrtime.bigint();
  const peakRssBefore = process.resourceUsage().maxRSS * 1024;
  const f = SafetensorsFile.open(file);
  const held: Tensor[] = f.names().map((n) => f.read(n));
  f.close();
  const peakRssAfter = process.resourceUsage().maxRSS * 1024;
  const fileBytes = fs.statSync(file).size;
  const tensorBytes = held.reduce((a, t) => a + t.data.byteLength, 0);
  return {
    fileBytes,
    tensorBytes,
    peakRssBefore,
    peakRssAfter,
    ratio: (peakRssAfter - peakRssBefore) / fileBytes,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--measure') {
    process.stdout.write(JSON.stringify(measureHere(args[1]!)));
  } else {
    const i = args.indexOf('--mib');
    const mib = i >= 0 ? Number(args[i + 1]) : 512;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuneloop-bench-'));
    const file = path.join(dir, 'big.safetensors');
    try {
      let t = Date.now();
      makeLargeFile(file, mib);
      const writeS = (Date.now() - t) / 1000;
      t = Date.now();
      const r = measureReadRss(file);
      const mb = (n: number) => (n / 2 ** 20).toFixed(0);
      console.log(
        `safetensors read: file ${mb(r.fileBytes)} MiB; peak RSS ${mb(r.peakRssBefore)} → ${mb(r.peakRssAfter)} MiB; increase ÷ file size = ${r.ratio.toFixed(3)} (limit 1.2)`,
      );
      console.log(`safetensors write ${(r.fileBytes / 2 ** 20 / writeS).toFixed(0)} MiB/s, read ${(r.fileBytes / 2 ** 20 / r.seconds).toFixed(0)} MiB/s`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}
