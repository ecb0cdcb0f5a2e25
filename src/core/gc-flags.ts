/**
 * V8 flags for a process that runs models (the inference worker, the CLI's model commands,
 * bench:decode's children): `--single-threaded-gc`.
 *
 * Decoding allocates each token's KV cache anew on the JavaScript side (onnxruntime-node copies
 * every output into a fresh ArrayBuffer, pre-allocated outputs included), several MB a token, and
 * V8 answers that external memory with a scavenge and an incremental mark about every third token.
 * Its concurrent marking and sweeping threads then compete with onnxruntime's intra-op threads for
 * the same cores, in the middle of a step. Measured at the Llama-3.2-1B shape, q4, 96 tokens after a
 * 128-token prompt, three alternating pairs on this project's 2-core machine: 35.3–36.2 ms a token
 * with V8's default (GC 4.7–4.8 ms a token) against 33.1–34.5 ms with this flag (GC 0.75–0.81 ms).
 * V8 reads the flag only at start (setting it later aborts the process), so such processes are
 * started with it. The trainer is not: its steps allocate little on the JavaScript side.
 */
export const MODEL_PROCESS_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** The node options to start a model process with: `execArgv` (the parent's), plus the flags it lacks. */
export function modelExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  return [...execArgv, ...MODEL_PROCESS_FLAGS.filter((f) => !execArgv.includes(f))];
}

/** Whether a process started with `execArgv` has every flag. */
export function hasModelFlags(execArgv: readonly string[] = process.execArgv): boolean {
  return MODEL_PROCESS_FLAGS.every((f) => execArgv.includes(f));
}
