import type { SchedulerConfig } from './config.js';

/**
 * Memoised noise schedules. Every `generate()` call builds its scheduler afresh (`clone()` →
 * `fromConfig`), and the β/ᾱ arrays of a 1000-step training schedule cost ~0.3–0.5 ms to rebuild each
 * time (code that runs once per call stays cold in the JIT). They depend only on a few config values, so
 * they are built once per distinct config and copied out (the copies keep callers from sharing arrays).
 */
const cache = new Map<string, readonly Float32Array[]>();
/** Distinct configs kept (oldest dropped first). */
const LIMIT = 32;

/** The config values a beta-based schedule is built from (plus what the caller adds), as a cache key. */
export function betaScheduleKey(
  kind: string,
  className: string,
  config: SchedulerConfig,
  extra: unknown,
): string {
  return JSON.stringify([
    kind,
    className,
    extra,
    config.num_train_timesteps,
    config.trained_betas ?? null,
    config.beta_schedule ?? null,
    config.beta_start ?? null,
    config.beta_end ?? null,
    config.rescale_betas_zero_snr ?? null,
  ]);
}

/**
 * `build()`'s arrays for `key`, built once (a build that throws caches nothing, so invalid configs are
 * refused every time); each call gets fresh copies.
 */
export function memoArrays(key: string, build: () => Float32Array[]): Float32Array[] {
  const hit = cache.get(key);
  if (hit !== undefined) return hit.map((a) => a.slice());
  const built = build();
  if (cache.size >= LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(
    key,
    built.map((a) => a.slice()),
  );
  return built;
}
