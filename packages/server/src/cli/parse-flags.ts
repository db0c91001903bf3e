import { InvalidArgumentError as CommanderArgumentError } from 'commander';

/** Commander parsers for the flags of `latentkit serve` / `latentkit worker`: junk is refused with what was expected. */

/** An integer in [min, max]. */
export function integerIn(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new CommanderArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected an integer ≥ ${min}.`
          : `expected an integer in [${min}, ${max}].`,
      );
    }
    return n;
  };
}

/** A finite number. */
export function finiteNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new CommanderArgumentError('expected a number.');
  return n;
}

/** A Redis URL: `redis://[user:pass@]host:port[/db]` or `rediss://…`. */
export function redisUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CommanderArgumentError('expected a Redis URL such as redis://127.0.0.1:6379.');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new CommanderArgumentError(`expected a redis:// or rediss:// URL, not ${url.protocol}//.`);
  }
  return value;
}

/** One API key (repeatable flag): collects them; an empty key is refused. */
export function collectKey(value: string, previous: string[] | undefined): string[] {
  if (value.trim() === '' || /\s/.test(value)) {
    throw new CommanderArgumentError('expected a non-empty key without spaces.');
  }
  return [...(previous ?? []), value];
}

/** The keys of `LATENTKIT_API_KEYS`: separated by commas (or whitespace), empty entries dropped. */
export function keysFromEnv(value: string | undefined): string[] {
  return (value ?? '')
    .split(/[\s,]+/)
    .map((k) => k.trim())
    .filter(Boolean);
}
