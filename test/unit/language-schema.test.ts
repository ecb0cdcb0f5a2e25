import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { validateJson } from '../../src/core/prompts/json-schema';
import { GITHUB_JUDGES, PROMPT_KEYS, promptJsonSchema } from '../../src/core/prompts/key-table';
import { parsePrompt } from '../../src/core/prompts/parse';
import { RESPONSE_FORMATS, ROLES, type JsonObject, type JsonValue } from '../../src/core/prompts/types';
import { EXPORT_DTYPES } from '../../src/core/dtypes';
import { RECIPE_KEYS, RECIPE_VALUES, recipeJsonSchema } from '../../src/core/recipes/key-table';
import { parseRecipe } from '../../src/core/recipes/recipe';
import { isShape, type KeyTable, type Shape } from '../../src/core/yaml/key-table';
import { FIXTURES, ROOT } from '../helpers';

/**
 * The JSON Schemas in schemas/ ship with the extension (contributes.yamlValidation). They are
 * generated from the key tables (PROMPT_KEYS, RECIPE_KEYS: each key's doc and value shape); these
 * tests keep the files, the tables and the parsers in agreement. After changing a table, rewrite
 * the files with:
 *
 *   UPDATE_SCHEMAS=1 npx mocha --no-config out/test/unit/language-schema.test.js
 */
const SCHEMAS = [
  { file: 'schemas/prompt.schema.json', generate: promptJsonSchema, table: PROMPT_KEYS },
  { file: 'schemas/adapter-recipe.schema.json', generate: recipeJsonSchema, table: RECIPE_KEYS },
] as const;

if (process.env['UPDATE_SCHEMAS'] === '1') {
  for (const s of SCHEMAS) fs.writeFileSync(path.join(ROOT, s.file), `${JSON.stringify(s.generate(), null, 2)}\n`);
}

function read(file: string): JsonObject {
  return JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8')) as JsonObject;
}

function obj(v: JsonValue | undefined): JsonObject {
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `expected an object, got ${JSON.stringify(v)}`);
  return v as JsonObject;
}

/** The object schema at a place (`evaluators[].llm.choices[]`), walking the schema file itself. */
function schemaAt(root: JsonObject, place: string): JsonObject {
  let s = root;
  if (place === '') return s;
  for (const part of place.split('.')) {
    const [key, ...lists] = part.split('[]');
    s = obj(obj(s['properties'])[key!]);
    for (let i = 0; i < lists.length; i++) s = obj(s['items']);
  }
  return s;
}

describe('JSON Schemas for prompt files and adapter recipes', () => {
  for (const s of SCHEMAS) {
    describe(s.file, () => {
      const onDisk = read(s.file);

      it('is what the tables generate (run with UPDATE_SCHEMAS=1 after changing a table)', () => {
        assert.deepEqual(onDisk, JSON.parse(JSON.stringify(s.generate())));
      });

      it('has, at every place of the key table, exactly its keys with its documentation, and refuses others', () => {
        for (const [place, keys] of Object.entries(s.table)) {
          const at = schemaAt(onDisk, place);
          const properties = obj(at['properties']);
          assert.deepEqual(Object.keys(properties).sort(), Object.keys(keys).sort(), `keys at "${place}"`);
          for (const [key, spec] of Object.entries(keys)) assert.equal(obj(properties[key])['description'], spec.doc, `${place}.${key}`);
          assert.equal(at['additionalProperties'], false, `additionalProperties at "${place}"`);
        }
      });

      it('links every mapping a shape opens to a place of the table, and every place to a key that opens it', () => {
        const table: KeyTable = s.table;
        const opened = new Set<string>();
        const visit = (x: Shape) => {
          if (typeof x['$place'] === 'string') opened.add(x['$place']);
          if (isShape(x['items'])) visit(x['items']);
        };
        for (const keys of Object.values(table)) for (const spec of Object.values(keys)) visit(spec.shape);
        for (const place of opened) assert.ok(Object.hasOwn(table, place), `a shape opens "${place}", which the table lacks`);
        for (const place of Object.keys(table)) assert.ok(place === '' || opened.has(place), `no key opens "${place}"`);
      });
    });
  }

  it('enumerates the values the parsers accept', () => {
    const prompt = read('schemas/prompt.schema.json');
    assert.deepEqual(obj(obj(prompt['properties'])['responseFormat'])['enum'], [...RESPONSE_FORMATS]);
    assert.deepEqual(obj(obj(prompt['properties'])['dtype'])['enum'], [...EXPORT_DTYPES]);
    assert.deepEqual(obj(obj(schemaAt(prompt, 'messages[]')['properties'])['role'])['enum'], [...ROLES]);
    assert.deepEqual(obj(obj(schemaAt(prompt, 'evaluators[]')['properties'])['uses'])['examples'], [...GITHUB_JUDGES]);
    const recipe = read('schemas/adapter-recipe.schema.json');
    for (const [placeAndKey, values] of Object.entries(RECIPE_VALUES)) {
      const [place, key] = placeAndKey.includes('.') ? placeAndKey.split('.') : ['', placeAndKey];
      assert.deepEqual(obj(obj(schemaAt(recipe, place!)['properties'])[key!])['enum'], [...values], placeAndKey);
    }
  });

  it('accepts the files the parsers accept, and refuses wrong values they refuse', () => {
    const prompt = read('schemas/prompt.schema.json');
    const valid = [
      path.join(FIXTURES, 'prompts/valid/support-reply.prompt.yml'),
      ...fs
        .readdirSync(path.join(FIXTURES, 'examples/github'))
        .filter((f) => f.endsWith('.yml'))
        .map((f) => path.join(FIXTURES, 'examples/github', f)),
    ];
    for (const file of valid) {
      const text = fs.readFileSync(file, 'utf8');
      assert.equal(parsePrompt(text).diagnostics.filter((d) => d.severity === 'error').length, 0, file);
      assert.deepEqual(validateJson(parseYaml(text) as JsonValue, prompt), [], file);
    }
    // Malformed fixtures whose mistake is a value the schema can describe.
    for (const name of [
      'temperature-out-of-range',
      'maxTokens-wrong-type',
      'seed-negative',
      'unknown-role',
      'responseFormat-unknown',
      'messages-not-a-list',
      'minPassRate-out-of-range',
      'maxRegressions-fraction',
      'adapter-maxRegressions-negative',
      'maxRegressions-quoted',
      'dtype-unknown',
    ]) {
      const text = fs.readFileSync(path.join(FIXTURES, 'prompts/malformed', `${name}.prompt.yml`), 'utf8');
      assert.ok(
        parsePrompt(text).diagnostics.some((d) => d.severity === 'error'),
        name,
      );
      assert.notDeepEqual(validateJson(parseYaml(text) as JsonValue, prompt), [], `${name} passes the schema`);
    }
    const recipeSchema = read('schemas/adapter-recipe.schema.json');
    const recipe =
      'base_model: HuggingFaceTB/SmolLM2-135M\ndataset:\n  path: data/train.jsonl\n  format: messages\nlora:\n  r: 16\n  target_modules: [q_proj, v_proj]\ntraining:\n  schedule: cosine\n  max_steps: 10\n';
    assert.ok(parseRecipe(recipe).recipe);
    assert.deepEqual(validateJson(parseYaml(recipe) as JsonValue, recipeSchema), []);
    const bad = recipe.replace('r: 16', 'r: 0').replace('schedule: cosine', 'schedule: cosin');
    assert.equal(parseRecipe(bad).diagnostics.filter((d) => d.severity === 'error').length, 2);
    assert.equal(validateJson(parseYaml(bad) as JsonValue, recipeSchema).length, 2);
    // gradient_checkpointing and base_dtype: both accepted as the parser reads them, a wrong base_dtype refused by both.
    const lowMemory = `${recipe}  gradient_checkpointing: true\n  base_dtype: int8\n`;
    assert.deepEqual(parseRecipe(lowMemory).diagnostics, []);
    assert.deepEqual(validateJson(parseYaml(lowMemory) as JsonValue, recipeSchema), []);
    for (const wrong of [
      lowMemory.replace('base_dtype: int8', 'base_dtype: fp16'),
      lowMemory.replace('gradient_checkpointing: true', 'gradient_checkpointing: "yes"'),
    ]) {
      assert.equal(parseRecipe(wrong).diagnostics.filter((d) => d.severity === 'error').length, 1, wrong);
      assert.equal(validateJson(parseYaml(wrong) as JsonValue, recipeSchema).length, 1, wrong);
    }
    const training = obj(schemaAt(recipeSchema, 'training')['properties']);
    assert.deepEqual(obj(training['base_dtype'])['enum'], ['fp32', 'bf16', 'int8']);
    assert.equal(obj(training['gradient_checkpointing'])['type'], 'boolean');
    assert.match(String(schemaAt(recipeSchema, 'training')['description']), /train_on_prompt, gradient_checkpointing, base_dtype\.$/);
  });

  it('ships in the .vsix and is referenced from contributes.yamlValidation', async function () {
    this.timeout(60_000);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      contributes: { yamlValidation: { fileMatch: string[]; url: string }[] };
    };
    const urls = pkg.contributes.yamlValidation.map((v) => v.url.replace(/^\.\//, ''));
    assert.deepEqual(urls.sort(), SCHEMAS.map((s) => s.file).sort());
    assert.deepEqual(pkg.contributes.yamlValidation.flatMap((v) => v.fileMatch).sort(), ['*.adapter.yaml', '*.adapter.yml', '*.prompt.yaml', '*.prompt.yml']);
    const { writeIgnoreFile } = (await import(path.join(ROOT, 'scripts/vsix-targets.mjs'))) as {
      writeIgnoreFile(root: string, target: string, out: string): string;
    };
    const vsce = require('@vscode/vsce') as { listFiles(o: object): Promise<string[]> };
    const tmp = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'tuneloop-schema-'));
    try {
      const files = await vsce.listFiles({ cwd: ROOT, ignoreFile: writeIgnoreFile(ROOT, 'linux-x64', tmp), dependencies: true });
      for (const u of urls) assert.ok(files.includes(u), `the .vsix lacks ${u}`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
