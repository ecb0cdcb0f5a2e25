import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GOLDEN, tempDir } from './helpers';

/** The files of a golden checkpoint a Hub repo would hold (the references Python computed stay out). */
const CHECKPOINT_FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

/**
 * A Hugging Face home (HF_HOME) whose cache holds a golden checkpoint as the Hub repo `repo`, laid out
 * as huggingface_hub leaves it (src/core/hub/cache.ts): blobs named by content hash, a snapshot of
 * relative links into them, refs/main naming the commit. No server is involved.
 */
export function fakeHubHome(repo = 'test-org/tiny-llama', arch = 'llama'): { home: string; cacheDir: string; snapshot: string } {
  const home = tempDir('tuneloop-hf-home-');
  const cacheDir = path.join(home, 'hub');
  const root = path.join(cacheDir, `models--${repo.split('/').join('--')}`);
  const commit = crypto.createHash('sha1').update(repo).digest('hex');
  const snapshot = path.join(root, 'snapshots', commit);
  for (const f of CHECKPOINT_FILES) {
    const data = fs.readFileSync(path.join(GOLDEN, arch, f));
    const blob = path.join(root, 'blobs', crypto.createHash('sha256').update(data).digest('hex'));
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    fs.writeFileSync(blob, data);
    fs.mkdirSync(snapshot, { recursive: true });
    fs.symlinkSync(path.relative(snapshot, blob), path.join(snapshot, f));
  }
  fs.mkdirSync(path.join(root, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(root, 'refs', 'main'), commit);
  return { home, cacheDir, snapshot };
}
