import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../helpers';

/**
 * The habits issue 11 asked to keep, checked on the tree as it is: the compiler's strict flags in
 * both tsconfigs, source files of at most 600 lines, and arrows between the folders of src/core that
 * point one way (no two folders import each other, directly or through a cycle, `import type` included).
 */
function files(dir: string, ext = '.ts'): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p, ext) : e.name.endsWith(ext) ? [p] : [];
  });
}

/** Relative module specifiers a file imports (static, type-only, re-exports and dynamic imports). */
function importsOf(text: string): string[] {
  const out: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|require\(\s*['"](\.[^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** The top-level unit of `dir` a file belongs to: its first folder, or the file itself. */
function unitOf(dir: string, file: string): string {
  const rel = path.relative(dir, file).split(path.sep);
  return rel.length > 1 ? rel[0]! : rel[0]!.replace(/\.ts$/, '');
}

/** The cycles among the top-level folders (and files) of `dir`, each with the imports that make it. */
function folderCycles(dir: string): string[] {
  const graph = new Map<string, Set<string>>();
  const why = new Map<string, string>();
  for (const f of files(dir)) {
    const from = unitOf(dir, f);
    if (!graph.has(from)) graph.set(from, new Set());
    for (const spec of importsOf(fs.readFileSync(f, 'utf8'))) {
      const target = resolveImport(f, spec);
      if (target === undefined || !target.startsWith(dir + path.sep)) continue;
      const to = unitOf(dir, target);
      if (to === from) continue;
      graph.get(from)!.add(to);
      if (!why.has(`${from}→${to}`)) why.set(`${from}→${to}`, `${path.relative(ROOT, f)} imports ${spec}`);
    }
  }
  return cycles(graph).map(
    (c) =>
      `${c.join(' ↔ ')}: ${[...why]
        .filter(([k]) => c.includes(k.split('→')[0]!) && c.includes(k.split('→')[1]!))
        .map(([k, v]) => `${k} (${v})`)
        .join('; ')}`,
  );
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  for (const c of [`${base}.ts`, path.join(base, 'index.ts'), base]) if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  return undefined;
}

/** Strongly connected components of a graph with more than one member (Tarjan). */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('architecture: the habits the tree keeps', () => {
  it('both tsconfigs turn on the strict flags', () => {
    for (const f of ['tsconfig.json', 'media/tsconfig.json']) {
      const o = JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8')).compilerOptions;
      for (const flag of ['strict', 'noUnusedLocals', 'noUnusedParameters', 'noImplicitReturns', 'exactOptionalPropertyTypes', 'noUncheckedIndexedAccess']) {
        assert.equal(o[flag], true, `${f}: ${flag}`);
      }
    }
  });

  it('no .ts file under src/ or media/ has more than 600 lines', () => {
    const long = [...files(path.join(ROOT, 'src')), ...files(path.join(ROOT, 'media'))]
      .map((f) => [path.relative(ROOT, f), fs.readFileSync(f, 'utf8').split('\n').length - 1] as const)
      .filter(([, n]) => n > 600);
    assert.deepEqual(long, []);
  });

  it('no two top-level folders of src/core import each other, directly or through a cycle', () => {
    assert.deepEqual(folderCycles(path.join(ROOT, 'src', 'core')), []);
  });

  it('nor do the parts of the extension (training.ts and the panel: main.ts wires them)', () => {
    assert.deepEqual(folderCycles(path.join(ROOT, 'src', 'extension')), []);
  });

  it('the cycle finder finds a cycle through three folders, and none in a chain', () => {
    const g = (edges: string[]) => {
      const m = new Map<string, Set<string>>();
      for (const e of edges) {
        const [a, b] = e.split('>') as [string, string];
        if (!m.has(a)) m.set(a, new Set());
        if (!m.has(b)) m.set(b, new Set());
        m.get(a)!.add(b);
      }
      return m;
    };
    assert.deepEqual(cycles(g(['a>b', 'b>c', 'c>a', 'c>d'])), [['a', 'b', 'c']]);
    assert.deepEqual(cycles(g(['a>b', 'b>c', 'a>c'])), []);
    assert.deepEqual(importsOf("import type { X } from '../a/b';\nexport { y } from './y';\nconst z = await import('../z');\nimport * as fs from 'node:fs';"), [
      '../a/b',
      './y',
      '../z',
    ]);
  });
});
