import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DTYPES, SafetensorsFile, toNumbers } from '../../src/core/safetensors';
import { GOLDEN, GOLDEN_ARCHS } from '../helpers';

/**
 * Every .safetensors file under the golden fixtures, read by our reader, against manifest.json:
 * an independent record made by Python's safetensors (names, dtypes, shapes, SHA-256 of the raw
 * bytes, first four values).
 */
interface ManifestEntry {
  dtype: string;
  shape: number[];
  sha256: string;
  first: number[];
}

function findSafetensors(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...findSafetensors(dir, p));
    else if (e.name.endsWith('.safetensors')) out.push(p);
  }
  return out.sort();
}

const torchToDtype = new Map<string, string>(Object.entries(DTYPES).map(([k, v]) => [v.torch, k]));

describe('safetensors reader against Python safetensors (golden manifests)', () => {
  it('finds the four golden folders', () => {
    assert.deepEqual(GOLDEN_ARCHS, ['gpt2', 'llama', 'mistral', 'qwen2']);
  });

  for (const arch of GOLDEN_ARCHS) {
    const dir = path.join(GOLDEN, arch);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, Record<string, ManifestEntry>>;

    it(`${arch}: the manifest lists exactly the .safetensors files in the folder`, () => {
      assert.deepEqual(findSafetensors(dir), Object.keys(manifest).sort());
    });

    for (const [rel, tensors] of Object.entries(manifest)) {
      it(`${arch}/${rel}: ${Object.keys(tensors).length} tensors with the manifest's names, dtypes, shapes, bytes and values`, () => {
        const f = SafetensorsFile.open(path.join(dir, rel));
        try {
          assert.deepEqual(f.names().sort(), Object.keys(tensors).sort());
          for (const [name, want] of Object.entries(tensors)) {
            const t = f.read(name);
            assert.equal(t.dtype, torchToDtype.get(want.dtype), `${name} dtype`);
            assert.deepEqual([...t.shape], want.shape, `${name} shape`);
            assert.equal(crypto.createHash('sha256').update(t.data).digest('hex'), want.sha256, `${name} sha256`);
            const first = toNumbers(t.dtype, t.data.subarray(0, Math.min(4, want.first.length) * DTYPES[t.dtype].bytes));
            assert.deepEqual(first, want.first, `${name} first values`);
          }
        } finally {
          f.close();
        }
      });
    }
  }
});
