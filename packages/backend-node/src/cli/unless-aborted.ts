/**
 * Runs `work`; when it fails because `signal` was aborted (Ctrl-C), returns `undefined` instead of the
 * error, so the caller stops after the images already written. Any other failure is rethrown.
 */
export async function unlessAborted<T>(signal: AbortSignal, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    if (signal.aborted) return undefined;
    throw error;
  }
}
