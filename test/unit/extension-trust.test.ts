import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { previewText, UNTRUSTED_PREVIEW } from '../../src/extension/language/previewText';
import {
  autorunIfTrusted,
  COMMAND_NEEDS_TRUST,
  type CommandId,
  followRunsWhenTrusted,
  gateCommand,
  type TrustGate,
  UNTRUSTED_WARNING,
} from '../../src/extension/trust';
import { ROOT } from '../helpers';

/**
 * The extension's workspace-trust decisions, which main.ts and the preview make through
 * src/extension/trust.ts and previewText.ts with VS Code's `workspace.isTrusted` passed in: here
 * with stand-ins, since unit tests have no VS Code (the code-server run with trust on is in
 * test/e2e/untrusted.ts).
 */
function gate(trusted: boolean): TrustGate & { trusted: boolean; warnings: string[] } {
  const g = { trusted, warnings: [] as string[], isTrusted: () => g.trusted, warn: (m: string) => void g.warnings.push(m) };
  return g;
}

describe('workspace trust in the extension', () => {
  describe('the command table', () => {
    it('refuses exactly the commands that run a model or training', () => {
      const needTrust = Object.entries(COMMAND_NEEDS_TRUST)
        .filter(([, v]) => v)
        .map(([id]) => id)
        .sort();
      assert.deepEqual(needTrust, ['tuneloop.distillRecipe', 'tuneloop.resumeRun', 'tuneloop.trainAdapter']);
    });

    it('classifies every command package.json declares, and no other', () => {
      const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { contributes: { commands: { command: string }[] } };
      assert.deepEqual(Object.keys(COMMAND_NEEDS_TRUST).sort(), pkg.contributes.commands.map((c) => c.command).sort());
    });
  });

  describe('the command gate', () => {
    const call = async (id: CommandId, g: TrustGate) => {
      const calls: unknown[][] = [];
      const handler = gateCommand(id, g, async (...args: unknown[]) => {
        calls.push(args);
        return 'ran';
      });
      return { result: await handler('a', 1), calls };
    };

    it('warns and runs nothing for trainAdapter and resumeRun in an untrusted workspace', async () => {
      for (const id of ['tuneloop.trainAdapter', 'tuneloop.resumeRun'] as const) {
        const g = gate(false);
        const { result, calls } = await call(id, g);
        assert.equal(result, undefined, id);
        assert.deepEqual(calls, [], `${id} ran untrusted`);
        assert.deepEqual(g.warnings, [UNTRUSTED_WARNING], id);
      }
    });

    it('runs them, with their arguments and result, once trusted', async () => {
      for (const id of ['tuneloop.trainAdapter', 'tuneloop.resumeRun'] as const) {
        const g = gate(true);
        const { result, calls } = await call(id, g);
        assert.equal(result, 'ran');
        assert.deepEqual(calls, [['a', 1]]);
        assert.deepEqual(g.warnings, []);
      }
    });

    it('asks at each call, so that trust granted while the window is open counts', async () => {
      const g = gate(false);
      const calls: unknown[] = [];
      const handler = gateCommand('tuneloop.trainAdapter', g, async () => void calls.push(1));
      await handler();
      g.trusted = true;
      await handler();
      assert.equal(calls.length, 1);
      assert.equal(g.warnings.length, 1);
    });

    it('lets the reading commands through untrusted, without a warning', async () => {
      for (const id of ['tuneloop.openPanel', 'tuneloop.previewPrompt', 'tuneloop.cancelRun', 'tuneloop.describeModel'] as const) {
        const g = gate(false);
        const { result } = await call(id, g);
        assert.equal(result, 'ran', id);
        assert.deepEqual(g.warnings, [], id);
      }
    });
  });

  it('Run / Compare open the panel without running it in an untrusted workspace', () => {
    assert.deepEqual(autorunIfTrusted(false, 'run'), {});
    assert.deepEqual(autorunIfTrusted(false, 'compare'), {});
    assert.deepEqual(autorunIfTrusted(true, 'compare'), { autorun: 'compare' });
  });

  describe('following runs after a reload', () => {
    const events = (trusted: boolean) => {
      const listeners: (() => void)[] = [];
      let disposed = 0;
      return {
        listeners,
        disposed: () => disposed,
        trust: {
          isTrusted: () => trusted,
          onDidGrant: (l: () => void) => {
            listeners.push(l);
            return { dispose: () => void disposed++ };
          },
        },
      };
    };

    it('follows them at once in a trusted workspace', () => {
      const e = events(true);
      let followed = 0;
      followRunsWhenTrusted(e.trust, () => void followed++);
      assert.equal(followed, 1);
      assert.equal(e.listeners.length, 0);
    });

    it('follows none in an untrusted workspace until it is trusted, then once', () => {
      const e = events(false);
      let followed = 0;
      const sub = followRunsWhenTrusted(e.trust, () => void followed++);
      assert.equal(followed, 0, 'reattached in an untrusted workspace');
      assert.equal(e.listeners.length, 1);
      e.listeners[0]!();
      e.listeners[0]!();
      assert.equal(followed, 1);
      sub.dispose();
      assert.equal(e.disposed(), 1);
    });
  });

  describe('the rendered-prompt preview', () => {
    const PROMPT = 'model: ./llama\nmessages:\n  - role: user\n    content: "Say {{word}}"\ntestData:\n  - word: hello\n';
    const source = (trusted: boolean) => {
      const asked = { resolve: 0, render: 0 };
      return {
        asked,
        source: {
          file: '/ws/greet.prompt.yml',
          text: PROMPT,
          trusted,
          resolveModel: () => {
            asked.resolve++;
            return { kind: 'model' as const, dir: '/ws/llama', from: 'prompt' as const, label: './llama' };
          },
          renderPrompt: async () => {
            asked.render++;
            return { template: 'model' as const, cases: [{ text: '<|im_start|>user\nSay hello<|im_end|>', tokenCount: 7 }] };
          },
        },
      };
    };

    it('reads no model files in an untrusted workspace, and says so', async () => {
      const s = source(false);
      const text = await previewText(s.source);
      assert.deepEqual(s.asked, { resolve: 0, render: 0 });
      assert.ok(text.includes(`> ${UNTRUSTED_PREVIEW}`), text);
      assert.match(text, /Say hello/, 'the rendered messages are still shown');
      assert.doesNotMatch(text, /im_start/);
    });

    it('renders through the model in a trusted workspace', async () => {
      const s = source(true);
      const text = await previewText(s.source);
      assert.deepEqual(s.asked, { resolve: 1, render: 1 });
      assert.match(text, /<\|im_start\|>user/);
      assert.ok(!text.includes(UNTRUSTED_PREVIEW));
    });
  });
});
