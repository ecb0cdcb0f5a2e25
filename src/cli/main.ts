import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { EVAL_USAGE, evalCommand, RUN_USAGE, runCommand } from './compare';
import { PROBE_USAGE, probeCommand } from './probe';
import { DEMO_USAGE, demoCommand } from './demo';
import { EXPORT_USAGE, exportCommand, MODELS_USAGE, modelsCommand } from './models';
import { trainCommand, TRAIN_USAGE } from './train';
import { distillCommand, DISTILL_USAGE } from './distill';
import { describeError, TuneloopError } from '../core/errors';
import { describeModelFolder } from '../core/infer/describe';
import { checkFiles, countDiagnostics, findPromptFiles, formatDiagnostic } from '../core/prompts';
import { checkRecipeFile, findRecipeFiles, RECIPE_FILE } from '../core/recipes/recipe';
import { CHECK_NAMES, type CheckResult, runGolden } from '../core/golden/run';
import { defaultCacheDir } from '../core/export/cache';
import { formatBytes } from '../core/format';
import { clearExports, listExports } from '../core/export/export';
import { VERSION } from '../core/version';
import { hugePagesEnv, wantsHugePages } from '../core/huge-pages';
import { parseRoot, parseThreads, trustedReads, UsageError } from './options';
import { writeCrashLog } from './crash';

/**
 * The `tuneloop` command: a thin shell over the core. One entry per subcommand; each parses its own
 * options, prints its own help, and returns the exit status.
 */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(args: string[]): Promise<number> | number;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  info: {
    summary: 'describe a Hugging Face checkpoint folder: architecture, parameters, shapes',
    usage: `tuneloop info DIR [--json]

Reads DIR/config.json and the safetensors headers (model.safetensors or a sharded index),
checks that the weights on disk are those the config describes, loads the tokenizer
(tokenizer.json + tokenizer_config.json) through transformers.js, and prints a summary.

  --json   print the summary as JSON`,
    async run(args) {
      const { values, positionals } = parseArgs({
        args,
        options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
      });
      if (values.help) return help('info');
      if (positionals.length !== 1) throw new UsageError('info takes exactly one checkpoint folder');
      const dir = positionals[0]!;
      const { summary, tokenizer, lines } = await describeModelFolder(dir);
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ ...summary, tokenizer }, null, 2)}\n`);
        return 0;
      }
      process.stdout.write(`${dir}\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
      return 0;
    },
  },
  check: {
    summary: 'validate prompt files and adapter recipes: one line per problem, exit 1 on errors',
    usage: `tuneloop check FILE|FOLDER... [--root DIR]

Validates GitHub Models prompt files (with Tuneloop's additions) and adapter recipes
(*.adapter.yml). Folders are searched for *.prompt.yml/.yaml and *.adapter.yml/.yaml.
Every path a file names (model, adapters, dataset, output, snapshot) must resolve inside the
workspace root: --root DIR, else the nearest folder above the file holding .git, else the
current folder. The embedded model and the Hugging Face cache may be read from anywhere.
Prints FILE:LINE:COL: error|warning|note: message per diagnostic; exit status 1 if any
is an error, 0 otherwise.`,
    run(args) {
      const { values, positionals } = parseArgs({ args, options: { root: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
      if (values.help) return help('check');
      if (positionals.length === 0) throw new UsageError('check takes one or more files or folders');
      const root = parseRoot(values.root);
      const paths = { ...(root ? { root } : {}), trustedReads: trustedReads() };
      const recipes = findRecipeFiles(positionals);
      const promptPaths = positionals.filter((p) => !RECIPE_FILE.test(p));
      const diagnostics = [...(promptPaths.length ? checkFiles(promptPaths, paths) : []), ...recipes.flatMap((f) => checkRecipeFile(f, paths).diagnostics)];
      for (const d of diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
      const n = countDiagnostics(diagnostics);
      const files = (promptPaths.length ? findPromptFiles(promptPaths).length : 0) + recipes.length;
      process.stderr.write(`${files} file(s) checked: ${n.error} error(s), ${n.warning} warning(s)\n`);
      return n.error > 0 ? 1 : 0;
    },
  },
  run: {
    summary: 'stream a prompt file’s outputs on the base model and each adapter, with word diffs',
    usage: RUN_USAGE,
    run: runCommand,
  },
  eval: {
    summary: 'run every test case on every variant with evaluators and snapshots; exit 1 on regressions',
    usage: EVAL_USAGE,
    run: evalCommand,
  },
  probe: {
    summary: 'run every test case under counterfactual swaps (names, pronouns); exit 1 over maxProbeFlips',
    usage: PROBE_USAGE,
    run: probeCommand,
  },
  export: {
    summary: 'write a transformers.js model folder from a checkpoint, an adapter or a run',
    usage: EXPORT_USAGE,
    run: exportCommand,
  },
  models: {
    summary: 'list local models: the embedded default, the Hugging Face cache, exports',
    usage: MODELS_USAGE,
    run: modelsCommand,
  },
  demo: {
    summary: 'the whole loop on the example workspace: base, fine-tune, comparison',
    usage: DEMO_USAGE,
    run: (args) => demoCommand(args, path.join(__dirname, 'trainer.js')),
  },
  distill: {
    summary: 'distil a teacher (a long prompt or a bigger model) into an adapter: dataset, training, held-out comparison',
    usage: DISTILL_USAGE,
    run: (args) => distillCommand(args, path.join(__dirname, 'trainer.js')),
  },
  train: {
    summary: 'fine-tune an adapter from a recipe in a background process, with progress; resume or follow runs',
    usage: TRAIN_USAGE,
    run: (args) => trainCommand(args, path.join(__dirname, 'trainer.js')),
  },
  cache: {
    summary: 'list or clear the exported models in the cache',
    usage: `tuneloop cache [list|clear] [--key PREFIX] [--cache DIR]

Exports of Hugging Face checkpoints are cached by content hash, so a second run is instant.
  list            each export: key, model type, size, source checkpoint, date (the default)
  clear           remove exports (all, or those whose key starts with --key) and partial leftovers
  --cache DIR     the cache folder (default: $TUNELOOP_CACHE or ~/.cache/tuneloop)`,
    run(args) {
      const { values, positionals } = parseArgs({
        args,
        options: { key: { type: 'string' }, cache: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
      });
      if (values.help) return help('cache');
      const action = positionals[0] ?? 'list';
      const dir = values.cache ?? defaultCacheDir();
      if (action === 'list') {
        const all = listExports(dir);
        if (all.length === 0) process.stdout.write(`no exports in ${dir}\n`);
        for (const e of all)
          process.stdout.write(
            `${e.key.slice(0, 16)}  ${e.modelType.padEnd(8)} ${formatBytes(e.bytes).padStart(10)}  ${e.created.slice(0, 19)}  ${e.source}\n`,
          );
        if (all.length > 0) process.stdout.write(`${all.length} export(s), ${formatBytes(all.reduce((a, e) => a + e.bytes, 0))} in ${dir}\n`);
        return 0;
      }
      if (action === 'clear') {
        const { freed, left } = clearExports(dir, values.key);
        process.stdout.write(`freed ${formatBytes(freed)} in ${dir}\n`);
        if (left.length)
          process.stdout.write(`left ${left.length} item(s) in ${path.join(dir, 'exports')} that are not Tuneloop exports: ${left.join(', ')}\n`);
        return 0;
      }
      throw new UsageError(`unknown action "${action}" (list or clear)`);
    },
  },
  golden: {
    summary: 'check the engine against Hugging Face reference outputs in a golden folder',
    usage: `tuneloop golden DIR [--json] [--only CHECK,...] [--threads N] [--cache DIR] [--memory-options]

DIR holds a Hugging Face checkpoint and the references Python computed on it (golden.json,
golden.safetensors). The checkpoint is exported to ONNX (cached), then each check compares one
golden key: one line per check with its max error and tolerance. Exit status 1 if any fails.

  --json          print {ok, checks: [{name, maxAbsErr, tol, ok}]}
  --only LIST     run only these checks (${'${CHECK_NAMES}'})
  --threads N     onnxruntime threads (default: its own choice)
  --cache DIR     export cache folder (default: $TUNELOOP_CACHE or ~/.cache/tuneloop)
  --memory-options
                  train with the memory options on (the grad, adamw and train2 checks): frozen
                  weights fed from one copy, the loss in chunks of 5 tokens, gradient checkpointing`.replace('${CHECK_NAMES}', CHECK_NAMES.join(', ')),
    async run(args) {
      const { values, positionals } = parseArgs({
        args,
        options: {
          json: { type: 'boolean' },
          only: { type: 'string' },
          threads: { type: 'string' },
          cache: { type: 'string' },
          'memory-options': { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
        allowPositionals: true,
      });
      if (values.help) return help('golden');
      if (positionals.length !== 1) throw new UsageError('golden takes exactly one folder');
      const threads = parseThreads(values.threads);
      const line = (r: CheckResult) =>
        `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(22)} max_abs_err ${r.maxAbsErr.toExponential(2).padEnd(9)} tol ${r.tol.toExponential(1)}${r.detail ? `  (${r.detail})` : ''}`;
      const result = await runGolden(positionals[0]!, {
        ...(threads ? { threads } : {}),
        ...(values.cache ? { cacheDir: values.cache } : {}),
        ...(values.only ? { only: values.only.split(',').map((s) => s.trim()) } : {}),
        ...(values['memory-options'] ? { trainingMemoryOptions: true } : {}),
        ...(values.json ? {} : { onResult: (r: CheckResult) => process.stdout.write(`${line(r)}\n`) }),
      });
      if (values.json) {
        const checks = result.checks.map(({ name, maxAbsErr, tol, ok, detail }) => ({
          name,
          maxAbsErr: Number.isFinite(maxAbsErr) ? maxAbsErr : null,
          tol,
          ok,
          ...(detail ? { detail } : {}),
        }));
        process.stdout.write(`${JSON.stringify({ ok: result.ok, checks }, null, 2)}\n`);
      } else {
        process.stdout.write(`${result.ok ? 'all' : 'NOT all'} ${result.checks.length} checks passed for ${positionals[0]}\n`);
      }
      return result.ok ? 0 : 1;
    },
  },
};

function help(command?: string): number {
  if (command) {
    process.stdout.write(`usage: ${COMMANDS[command]!.usage}\n`);
    return 0;
  }
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  process.stdout.write(
    `tuneloop ${VERSION}: prompt files, local inference and LoRA fine-tuning, headless

usage: tuneloop COMMAND [options]    (tuneloop COMMAND --help for more)

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}
`,
  );
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') return help(rest[0] && COMMANDS[rest[0]] ? rest[0] : undefined);
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`tuneloop: unknown command "${name}"; run tuneloop --help for the list\n`);
    return 2;
  }
  return runGuarded(name, command, rest);
}

/**
 * One command, with every failure turned into a message: a usage mistake (exit 2), a TuneloopError
 * (exit 1, its message as is), or an internal error (exit 70: one line, the stack in a log file).
 */
export async function runGuarded(name: string, command: Command, rest: string[], err: { write(s: string): unknown } = process.stderr): Promise<number> {
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err.write(`tuneloop ${name}: ${(e as Error).message}\nusage: ${command.usage.split('\n')[0]}\n`);
      return 2;
    }
    if (e instanceof TuneloopError) {
      err.write(`tuneloop ${name}: error: ${e.message}\n`);
      return 1;
    }
    // A bug, not a mistake of the user's: one line here, the stack in a log file to attach to a report.
    const log = writeCrashLog(name, rest, e);
    err.write(
      `tuneloop ${name}: internal error: ${describeError(e).split('\n')[0]}\n${log ? `  the details are in ${log}; please include that file when you report this` : ((e as Error).stack ?? '')}\n`,
    );
    return 70;
  }
}

/** The commands that load or export models, and so touch gigabytes of fresh memory. */
const MODEL_COMMANDS: ReadonlySet<string> = new Set(['run', 'eval', 'probe', 'demo', 'distill', 'export', 'golden']);

/**
 * The environment to run `argv` again in, when it is a model command and this process was started
 * without huge pages asked for (see hugePagesEnv: glibc reads the tunable only at start, so the
 * command runs in a child started with it); undefined to run it here.
 */
export function relaunchEnv(argv: readonly string[], env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv | undefined {
  const [name, ...rest] = argv;
  if (name === undefined || !MODEL_COMMANDS.has(name) || rest.some((a) => a === '--help' || a === '-h')) return undefined;
  return wantsHugePages(env, platform) ? hugePagesEnv(env, platform) : undefined;
}

/** Runs this CLI again on `argv` in `env`, its output ours; resolves to its exit status. */
function relaunch(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], { stdio: 'inherit', env });
    // Ctrl-C reaches the child from the terminal (same process group); this process waits for it to end.
    const onSigint = () => {};
    const onSigterm = () => child.kill('SIGTERM');
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    child.on('error', (e) => {
      process.stderr.write(`tuneloop: could not start the command's process (${e.message}); running it here\n`);
      resolve(main([...argv]));
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const env = relaunchEnv(argv, process.env);
  (env ? relaunch(argv, env) : main(argv)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`tuneloop: ${describeError(e)}\n`);
      process.exitCode = 70;
    },
  );
}
