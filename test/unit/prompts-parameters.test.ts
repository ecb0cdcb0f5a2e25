import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateParams } from '../../src/core/infer/generate';
import { ModelParametersSchema, PARAMETER_SCHEMAS, type ParameterName } from '../../src/core/infer/parameters';
import { parsePrompt } from '../../src/core/prompts/parse';
import type { JsonObject } from '../../src/core/prompts/types';
import { GenerationOverrides } from '../../src/extension/panel/protocol';
import { REQUESTS } from '../../src/worker/protocol';
import { ROOT } from '../helpers';

/**
 * The generation parameters have one schema (src/core/infer/parameters.ts). These tests
 * hold everything that reads parameters to it: the prompt file parser, the JSON Schema, the worker
 * protocol, the panel protocol and generate()'s own check must accept and refuse the same values.
 */

const NAMES = Object.keys(PARAMETER_SCHEMAS) as ParameterName[];

/** Values around every limit any of them had: 0, 1, 2, 8192, 10, 100 000, 2^32, 2^53, fractions, negatives. */
const NUMBERS = [-1, 0, 0.5, 1, 1.5, 2, 2.5, 10, 11, 8192, 8193, 100_000, 100_001, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e300];
const STOPS = ['\n\n', '', ['###', 'END'], [''], [], ['x'.repeat(300)], Array.from({ length: 20 }, (_, i) => `s${i}`)];

function fileAccepts(name: ParameterName, value: unknown): boolean {
  const text = `messages:\n  - role: user\n    content: hi\nmodelParameters:\n  ${name}: ${JSON.stringify(value)}\n`;
  const { prompt, diagnostics } = parsePrompt(text);
  const ok = diagnostics.every((d) => d.severity !== 'error');
  if (ok) assert.ok(ModelParametersSchema.safeParse(prompt!.modelParameters).success, `the parser's ${name} fits the schema`);
  return ok;
}

const worker = REQUESTS.generate.params.shape.params;

function runs(params: object): boolean {
  try {
    validateParams(params as Parameters<typeof validateParams>[0]);
    return true;
  } catch {
    return false;
  }
}

describe('generation parameters: one schema, one set of limits', () => {
  for (const name of NAMES) {
    it(`${name}: the prompt file, the worker, the panel and generate() accept the same values`, () => {
      const values: readonly unknown[] = name === 'stop' ? STOPS : NUMBERS;
      for (const v of values) {
        // A file may write one stop string; everything past the parser carries a list.
        const carried = name === 'stop' && !Array.isArray(v) ? [v] : v;
        const params = { maxTokens: 1, [name]: carried };
        const verdicts = {
          file: fileAccepts(name, v),
          worker: worker.safeParse(params).success,
          panel: GenerationOverrides.safeParse({ [name]: carried }).success,
          generate: runs(params),
        };
        const all = Object.values(verdicts);
        assert.ok(
          all.every((x) => x === all[0]),
          `${name}: ${JSON.stringify(v)}: ${JSON.stringify(verdicts)}`,
        );
      }
    });
  }

  it('the JSON Schema states the same limits and docs', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas/prompt.schema.json'), 'utf8')) as JsonObject;
    const properties = (schema['properties'] as JsonObject)['modelParameters'] as JsonObject;
    for (const name of NAMES) {
      const inFile = (properties['properties'] as JsonObject)[name] as JsonObject;
      const s = PARAMETER_SCHEMAS[name];
      assert.equal(inFile['description'], s['description'], name);
      for (const k of ['minimum', 'exclusiveMinimum', 'maximum']) assert.equal(inFile[k], s[k], `${name}.${k}`);
      if (s['type'] === 'array') assert.deepEqual(inFile['items'], s['items'], name);
      else assert.equal(inFile['type'], s['type'], name);
    }
  });

  it('names the parameter and its limits when generate() refuses one', () => {
    assert.throws(() => validateParams({ maxTokens: 4, topP: 1.5 }), /topP: must be in \(0, 1\], found 1\.5/);
    assert.throws(() => validateParams({ maxTokens: 0 }), /maxTokens: must be an integer ≥ 1, found 0/);
    assert.throws(() => validateParams({ maxTokens: 4, temperature: 3 }), /temperature: must be in \[0, 2\], found 3/);
    assert.throws(() => validateParams({ maxTokens: 4, stop: [''] }), /stop: must be a list of non-empty texts, found \[""\]/);
  });
});
