import { BackendUnavailableError } from '@latentkit/core';

/** One provider that could not be used, and why. */
export interface ProviderFailure<P extends string = string> {
  /** The provider. */
  readonly provider: P;
  /** The reason, on one line. */
  readonly reason: string;
}

/** What {@link createWithFallback} returns: the value and the provider that made it. */
export interface FallbackResult<T, P extends string = string> {
  /** What `attempt` returned. */
  readonly value: T;
  /** The provider it succeeded with. */
  readonly provider: P;
  /** The providers tried before it, with their reasons. */
  readonly failures: readonly ProviderFailure<P>[];
}

/** Thrown by an `attempt` to skip a provider with a reason, without an onnxruntime error behind it. */
export class ProviderSkipped extends Error {
  /** @param reason why the provider cannot be used, on one line. */
  constructor(reason: string) {
    super(reason);
    this.name = 'ProviderSkipped';
  }
}

/** The first non-empty line of an error's message (onnxruntime errors carry long stack-like tails). */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (
    message
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? 'unknown error'
  );
}

/**
 * Tries execution providers in order of preference: calls `attempt(provider)` for each until one
 * succeeds. Each failure but the last is reported through `warn` with the reason and the provider tried
 * next, so users learn why they are on a slower path. When every provider fails it throws
 * {@link BackendUnavailableError} listing each reason, or what `onAllFailed` returns (e.g. a
 * `ModelInvalidError` when even the always-available CPU provider failed, which blames the model).
 *
 * @param providers - The providers, in order of preference.
 * @param attempt - Creates the thing with one provider; throw {@link ProviderSkipped} to skip with a reason.
 * @param options - `what` is being created, for messages (e.g. `unet (unet/model.onnx)`); `warn` gets the
 *   fallback warnings; `onAllFailed` may choose the error thrown when every provider failed.
 */
export async function createWithFallback<T, P extends string>(
  providers: readonly P[],
  attempt: (provider: P) => Promise<T>,
  options: {
    what: string;
    warn: (message: string) => void;
    onAllFailed?: (failures: readonly ProviderFailure<P>[]) => Error | undefined;
  },
): Promise<FallbackResult<T, P>> {
  const failures: ProviderFailure<P>[] = [];
  for (let i = 0; i < providers.length; i++) {
    const provider = providers[i]!;
    try {
      return { value: await attempt(provider), provider, failures };
    } catch (error) {
      const reason = firstLine(error);
      failures.push({ provider, reason });
      const next = providers[i + 1];
      if (next !== undefined) {
        options.warn(
          `latentkit: execution provider "${provider}" cannot run ${options.what} (${reason}); falling back to "${next}".`,
        );
      }
    }
  }
  const list = failures.map((f) => `${f.provider}: ${f.reason}`).join('; ');
  throw (
    options.onAllFailed?.(failures) ??
    new BackendUnavailableError(`No execution provider could run ${options.what}: ${list}.`)
  );
}
