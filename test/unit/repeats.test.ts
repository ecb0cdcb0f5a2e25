import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repeatScores, wilsonInterval } from '../../src/core/compare/repeats';
import { goldenCopy, runCli, tempDir } from '../helpers';

describe('repeats: pass rates with intervals, flaky cases', () => {
  it('the Wilson interval matches hand-computed values', () => {
    // 8 of 10: centre (0.8 + 1.96²/20) / (1 + 1.96²/10) = 0.7167, half-width 0.2266.
    const a = wilsonInterval(8, 10);
    assert.ok(Math.abs(a.low - 0.4902) < 1e-4 && Math.abs(a.high - 0.9433) < 1e-4, JSON.stringify(a));
    // 10 of 10: the lower bound is n / (n + z²) = 10 / 13.8415 = 0.7225, the upper 1.
    const b = wilsonInterval(10, 10);
    assert.ok(Math.abs(b.low - 0.7225) < 1e-4 && b.high === 1, JSON.stringify(b));
    // 0 of 10 mirrors it.
    const c = wilsonInterval(0, 10);
    assert.ok(c.low === 0 && Math.abs(c.high - 0.2775) < 1e-4, JSON.stringify(c));
    assert.deepEqual(wilsonInterval(0, 0), { low: 0, high: 1 });
  });

  it('counts completed runs only, and a case with a pass and a fail is flaky', () => {
    const pass = { passed: true, finish: 'stop' } as const;
    const fail = { passed: false, finish: 'stop' } as const;
    const cancelled = { passed: false, finish: 'cancelled' } as const;
    const s = repeatScores(3, { 0: [pass, pass, pass], 1: [pass, fail, pass], 2: [fail, fail, cancelled], 3: [pass, cancelled] });
    assert.equal(s.passed, 6);
    assert.equal(s.completed, 9);
    assert.equal(s.rate, 6 / 9);
    assert.deepEqual(s.flaky, [1]);
    assert.deepEqual(s.byCase[2], { passed: 0, runs: 2 });
    assert.deepEqual({ low: s.low, high: s.high }, wilsonInterval(6, 9));
    assert.equal(repeatScores(2, { 0: [cancelled] }).rate, undefined);
  });
});

describe('tuneloop eval --repeat', function () {
  this.timeout(120_000);
  const ws = tempDir();
  goldenCopy(ws);
  // A random model sampled at a high temperature: whether its output holds an "e" is a coin toss.
  const prompt = (temperature: number, minPassRate: number) => `name: r
model: models/llama
minPassRate: 0
modelParameters:
  temperature: ${temperature}
  maxTokens: 6
messages:
  - role: user
    content: "Name a colour like {{word}}."
testData:
  - word: red
  - word: blue
  - word: green
evaluators:
  - name: has e
    regex: "e"
adapters:
  - path: models/llama/adapter
    minPassRate: ${minPassRate}
`;
  const cli = (...args: string[]) => runCli(ws, args);
  type Json = {
    files: {
      variants: {
        name: string;
        passRate: number;
        evaluators: { passRate: number; ran: number }[];
        repeat: {
          runs: number;
          passed: number;
          completed: number;
          low: number;
          high: number;
          flaky: number[];
          byCase: Record<string, { passed: number; runs: number }>;
        } | null;
      }[];
      cases: { index: number; runs?: Record<string, { text: string; passed: boolean }[]> }[];
    }[];
  };

  it('runs each case N times with seeds seed + r: rates over all runs, the interval, flaky cases, reproducible', () => {
    fs.writeFileSync(path.join(ws, 'r.prompt.yml'), prompt(1.5, 0));
    const first = cli('eval', 'r.prompt.yml', '--repeat', '6', '--reporter', 'json');
    assert.equal(first.status, 0, first.stderr);
    const json = JSON.parse(first.stdout) as Json;
    const f = json.files[0]!;
    let flaky = 0;
    for (const v of f.variants) {
      const x = v.repeat!;
      assert.equal(x.runs, 6);
      assert.equal(x.completed, 18);
      // The overall and the evaluator's rate count every run, and agree with the runs listed per case.
      const listed = f.cases.flatMap((c) => c.runs![v.name]!);
      assert.equal(listed.length, 18);
      assert.equal(x.passed, listed.filter((r) => r.passed).length);
      assert.equal(v.passRate, x.passed / 18);
      assert.deepEqual([v.evaluators[0]!.ran, v.evaluators[0]!.passRate], [18, x.passed / 18]);
      assert.ok(x.low < v.passRate && v.passRate < x.high);
      for (const c of f.cases) {
        const runs = c.runs![v.name]!;
        assert.deepEqual(x.byCase[c.index], { passed: runs.filter((r) => r.passed).length, runs: 6 });
        // Each run samples with its own seed: one case's six outputs are not all the same.
        assert.ok(new Set(runs.map((r) => r.text)).size > 1, `${v.name} case ${c.index}: ${JSON.stringify(runs)}`);
        const p = runs.filter((r) => r.passed).length;
        assert.equal(x.flaky.includes(c.index), p > 0 && p < 6);
      }
      flaky += x.flaky.length;
    }
    assert.ok(flaky > 0, 'a coin-toss evaluator leaves some case flaky');
    // Seeded: the same command gives the same runs.
    const again = cli('eval', 'r.prompt.yml', '--repeat', '6', '--reporter', 'json');
    const texts = (j: Json) => j.files[0]!.cases.map((c) => c.runs);
    assert.deepEqual(texts(JSON.parse(again.stdout) as Json), texts(json));
  });

  it('gates on the lower bound: a pass rate above minPassRate whose interval reaches under it fails, naming both', () => {
    fs.writeFileSync(path.join(ws, 'r.prompt.yml'), prompt(1.5, 0));
    const json = JSON.parse(cli('eval', 'r.prompt.yml', '--repeat', '6', '--reporter', 'json').stdout) as Json;
    const adapter = json.files[0]!.variants.find((v) => v.name === 'adapter')!;
    // Between the lower bound and the rate: met by the rate, not by the bound.
    const between = Math.floor(((adapter.repeat!.low + adapter.passRate) / 2) * 100) / 100;
    assert.ok(adapter.repeat!.low < between && between < adapter.passRate, JSON.stringify(adapter.repeat));
    fs.writeFileSync(path.join(ws, 'r.prompt.yml'), prompt(1.5, between));
    const r = cli('eval', 'r.prompt.yml', '--repeat', '6');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /adapter: pass rate [\d.]+% over 18 runs; its 95% lower bound [\d.]+% is under the required \d+%/);
    assert.match(r.stdout, /adapter +pass rate [\d.]+% over 18 runs \(6 per case\), 95% interval/);
    assert.match(r.stdout, /flaky case\(s\)/);
    const junit = cli('eval', 'r.prompt.yml', '--repeat', '6', '--reporter', 'junit').stdout;
    assert.match(junit, /<property name="passRateLow" value="0\.\d+"\/>/);
    assert.match(junit, /<property name="flakyCases" value="[\d ]+"\/>/);
    assert.match(junit, /<failure message="failed in [1-5] of 6 runs \(flaky\)/);
    // Without --repeat the same file is gated on run 0's rate alone, and no interval is printed.
    const once = cli('eval', 'r.prompt.yml', '--reporter', 'json');
    assert.equal((JSON.parse(once.stdout) as Json).files[0]!.variants[1]!.repeat, null);
  });

  it('greedy decoding runs once, and says why; a bad count is refused', () => {
    fs.writeFileSync(path.join(ws, 'r.prompt.yml'), prompt(0, 0));
    const r = cli('eval', 'r.prompt.yml', '--repeat', '4', '--reporter', 'json');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /--repeat 4: the prompt's temperature is 0 \(greedy\).*each case runs once/);
    assert.equal((JSON.parse(r.stdout) as Json).files[0]!.variants[0]!.repeat, null);
    const bad = cli('eval', 'r.prompt.yml', '--repeat', '0');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--repeat takes a number of runs per test case from 1 to 1000, got "0"/);
  });
});
