import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { runGuarded } from '../../src/cli/main';
import { UsageError } from '../../src/cli/options';
import { TuneloopError } from '../../src/core/errors';
import { firstInvalidUtf8, utf8Problem } from '../../src/core/fs/text';
import { tempDir } from '../helpers';

/** How failures reach the user (one line each, the stack in a log) and strict UTF-8 reading. */
describe('every failure is a message', () => {
  const capture = () => {
    let text = '';
    return {
      write: (s: string) => (text += s),
      get text() {
        return text;
      },
    };
  };
  const command = (e: unknown) => ({ summary: '', usage: 'tuneloop x ARG\n\nmore', run: () => Promise.reject(e) });

  it('an internal error prints one line and the path of a log holding the stack; exit 70', async () => {
    const cache = tempDir();
    process.env.TUNELOOP_CACHE = cache;
    try {
      const err = capture();
      const bug = new TypeError("Cannot read properties of undefined (reading 'shape')");
      const code = await runGuarded('x', command(bug), ['--flag'], err);
      assert.equal(code, 70);
      const lines = err.text.trimEnd().split('\n');
      assert.equal(lines.length, 2, err.text);
      assert.equal(lines[0], "tuneloop x: internal error: Cannot read properties of undefined (reading 'shape')");
      const log = /the details are in (\S+); please include that file/.exec(lines[1]!)?.[1];
      assert.ok(log?.startsWith(cache) === true, lines[1]);
      const text = fs.readFileSync(log!, 'utf8');
      assert.match(text, /^tuneloop \S+ x --flag\n/);
      assert.ok(text.includes(bug.stack!), 'the stack is in the log');
      assert.doesNotMatch(err.text, /\n\s+at /, 'and not on the terminal');
    } finally {
      delete process.env.TUNELOOP_CACHE;
    }
  });

  it('a TuneloopError prints its message (exit 1); a usage mistake the usage line (exit 2)', async () => {
    const a = capture();
    assert.equal(await runGuarded('x', command(new TuneloopError('no such folder', { file: '/m' }, 'give a folder')), [], a), 1);
    assert.equal(a.text, 'tuneloop x: error: /m: no such folder (give a folder)\n');
    const b = capture();
    assert.equal(await runGuarded('x', command(new UsageError('x takes one folder')), [], b), 2);
    assert.equal(b.text, 'tuneloop x: x takes one folder\nusage: tuneloop x ARG\n');
  });
});

describe('strict UTF-8', () => {
  const bytes = (...b: number[]) => Uint8Array.from(b);
  it('finds the first invalid byte: Latin-1, truncated and overlong sequences, surrogates, beyond U+10FFFF', () => {
    assert.equal(firstInvalidUtf8(Buffer.from('café ☕ 𝄞', 'utf8')), -1);
    assert.equal(firstInvalidUtf8(bytes(0x63, 0x61, 0x66, 0xe9)), 3, 'Latin-1 é');
    assert.equal(firstInvalidUtf8(bytes(0x61, 0xe2, 0x98)), 1, 'a truncated three-byte sequence');
    assert.equal(firstInvalidUtf8(bytes(0xc0, 0xaf)), 0, 'an overlong "/"');
    assert.equal(firstInvalidUtf8(bytes(0xe0, 0x80, 0xaf)), 0, 'an overlong three-byte "/"');
    assert.equal(firstInvalidUtf8(bytes(0x61, 0xed, 0xa0, 0x80)), 1, 'a UTF-16 surrogate');
    assert.equal(firstInvalidUtf8(bytes(0xf4, 0x90, 0x80, 0x80)), 0, 'above U+10FFFF');
    assert.equal(firstInvalidUtf8(bytes(0x80)), 0, 'a lone continuation byte');
  });

  it('reports line and column in characters, counting the valid multi-byte ones before it', () => {
    const p = utf8Problem(Buffer.concat([Buffer.from('one\ntwo ☕☕ ', 'utf8'), bytes(0xe9), Buffer.from('\n')]));
    assert.deepEqual(p && [p.line, p.column, p.byte], [2, 8, 0xe9]);
    assert.equal(utf8Problem(Buffer.from('fine\n', 'utf8')), undefined);
  });
});
