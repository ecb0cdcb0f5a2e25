import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { makeLargeFile, measureReadRss } from '../../bench/safetensors-read';
import { tempDir } from '../helpers';

describe('safetensors reader memory', function () {
  this.timeout(120_000);

  it('reading a 512 MiB file raises peak RSS by at most 1.2× its size', () => {
    const file = path.join(tempDir(), 'big.safetensors');
    makeLargeFile(file, 512);
    const r = measureReadRss(file);
    assert.equal(r.tensorBytes, 512 * 2 ** 20, 'every byte was read');
    assert.ok(r.ratio <= 1.2, `peak RSS rose by ${(r.ratio * 100).toFixed(1)}% of the file size`);
    // And the check is not vacuous: the tensors really were held in memory.
    assert.ok(r.ratio >= 0.5, `peak RSS rose by only ${(r.ratio * 100).toFixed(1)}%: was anything read?`);
  });
});
