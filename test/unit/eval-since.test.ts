import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { goldenCopy, runCli, tempDir } from '../helpers';

describe('tuneloop eval --since REF', function () {
  this.timeout(120_000);
  const repo = tempDir();
  goldenCopy(repo);
  const git = (...a: string[]) => spawnSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { encoding: 'utf8' });
  const cli = (...args: string[]) => runCli(repo, args);
  const prompt = (expected1: string) => `name: q
model: models/llama
minPassRate: 0
messages:
  - role: user
    content: "Name a colour like {{word}}."
testData:
  - word: red
    expected: red
  - word: blue
    expected: ${JSON.stringify(expected1)}
evaluators:
  - name: names it
    string:
      contains: "{{expected}}"
adapters:
  - path: models/llama/adapter
snapshot: q.snapshot.json
`;
  type Since = {
    ref: string;
    commit: string;
    snapshot: string;
    changes: { variant: string; caseIndex: number; kind: string; before?: string; after?: string }[];
    variants: { name: string; passRateThen: number | null; passRateNow: number | null; newlyFailing: number[]; newlyPassing: number[] }[];
  };

  it('lists the outputs that changed and the cases that flipped, judged by today’s evaluators on the outputs at REF', () => {
    const file = path.join(repo, 'q.prompt.yml');
    fs.writeFileSync(file, prompt('?'));
    assert.equal(cli('eval', 'q.prompt.yml', '--update-snapshots').status, 0);
    const snapshotFile = path.join(repo, 'q.snapshot.json');
    const real = JSON.parse(fs.readFileSync(snapshotFile, 'utf8'));
    const base1: string = real.outputs.base['1'];
    assert.ok(base1.length >= 2 && !/red/.test(real.outputs.base['0']), JSON.stringify(real.outputs));
    // Case 1 expects what the base now says; at v1 the base answered case 0 with "red" and case 1 with something else.
    fs.writeFileSync(file, prompt(base1.slice(0, 2)));
    const then = { ...real, outputs: { ...real.outputs, base: { '0': 'it is red', '1': 'nothing at all' } } };
    fs.writeFileSync(snapshotFile, `${JSON.stringify(then, null, 2)}\n`);
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'v1');
    git('tag', 'v1');
    const v1 = git('rev-parse', 'HEAD').stdout.trim();
    // Today: the accepted snapshot is the real one again.
    fs.writeFileSync(snapshotFile, `${JSON.stringify(real, null, 2)}\n`);
    git('commit', '-qam', 'v2');

    const r = cli('eval', 'q.prompt.yml', '--since', 'v1', '--reporter', 'json');
    assert.equal(r.status, 0, `--since reports and does not gate: ${r.stderr}`);
    const since = JSON.parse(r.stdout).files[0].since as Since;
    assert.deepEqual([since.ref, since.commit, since.snapshot], ['v1', v1, 'q.snapshot.json']);
    const base = since.variants.find((v) => v.name === 'base')!;
    assert.deepEqual(base, { name: 'base', passRateThen: 0.5, passRateNow: 0.5, newlyFailing: [0], newlyPassing: [1] });
    const adapter = since.variants.find((v) => v.name === 'adapter')!;
    assert.deepEqual([adapter.newlyFailing, adapter.newlyPassing, adapter.passRateThen], [[], [], adapter.passRateNow]);
    assert.deepEqual(
      since.changes.map((c) => [c.variant, c.caseIndex, c.kind, c.before]),
      [
        ['base', 0, 'changed', 'it is red'],
        ['base', 1, 'changed', 'nothing at all'],
      ],
    );

    const table = cli('eval', 'q.prompt.yml', '--since', 'v1');
    assert.match(table.stdout, /since v1 \(commit [0-9a-f]{12}, q\.snapshot\.json\):/);
    assert.match(table.stdout, /model: the same/);
    assert.match(table.stdout, /base +pass rate 50% → 50%; pass → FAIL: 0; FAIL → pass: 1/);
    assert.match(table.stdout, /2 output\(s\) changed/);
    assert.match(table.stdout, /base case 0 changed: \[-it-\] .*\[-red-\]/);
    // Against the tip, nothing changed.
    const head = JSON.parse(cli('eval', 'q.prompt.yml', '--since', 'HEAD', '--reporter', 'json').stdout).files[0].since as Since;
    assert.deepEqual(head.changes, []);
  });

  it('a ref git does not know, a commit before the snapshot, and a file without one: errors before any model runs', () => {
    const unknown = cli('eval', 'q.prompt.yml', '--since', 'no-such-tag');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /q\.snapshot\.json: --since no-such-tag: no such commit, branch or tag/);
    assert.doesNotMatch(unknown.stderr, /running base/, 'nothing ran');

    fs.writeFileSync(path.join(repo, 'other.prompt.yml'), prompt('?').replace('q.snapshot.json', 'other.snapshot.json'));
    assert.equal(cli('eval', 'other.prompt.yml', '--update-snapshots').status, 0);
    git('add', '-A');
    git('commit', '-qm', 'other');
    const before = cli('eval', 'other.prompt.yml', '--since', 'v1');
    assert.equal(before.status, 1);
    assert.match(before.stderr, /--since v1: the snapshot other\.snapshot\.json is not in that commit \([0-9a-f]{12}\)/);

    fs.writeFileSync(path.join(repo, 'none.prompt.yml'), prompt('?').replace('snapshot: q.snapshot.json\n', ''));
    const none = cli('eval', 'none.prompt.yml', '--since', 'v1');
    assert.equal(none.status, 1);
    assert.match(none.stderr, /--since compares with the snapshot at a git ref, and the prompt file has no "snapshot" key/);

    const outside = tempDir();
    goldenCopy(outside);
    fs.copyFileSync(path.join(repo, 'q.prompt.yml'), path.join(outside, 'q.prompt.yml'));
    const r = runCli(outside, ['eval', 'q.prompt.yml', '--since', 'v1'], { GIT_CEILING_DIRECTORIES: path.dirname(outside) });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not in a git repository/);
  });
});
