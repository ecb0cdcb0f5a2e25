import { ForeignOutputError } from '../core/fs/output';

/**
 * Starting a run whose recipe's output folder holds someone else's files: the panel asks before it
 * replaces them (the CLI's --force). `start(force)` starts the run; `ask(message)` shows the question
 * and says whether the user agreed. Undefined when the user declined: nothing was started.
 */
export async function startWithConsent<T>(start: (force: boolean) => Promise<T>, ask: (message: string) => Promise<boolean>): Promise<T | undefined> {
  try {
    return await start(false);
  } catch (e) {
    if (!(e instanceof ForeignOutputError)) throw e;
    const question = `${e.message.replace(/ \(name an empty.*\)$/, '')}. Replace it with the adapter when the run finishes?`;
    if (!(await ask(question))) return undefined;
    return start(true);
  }
}
