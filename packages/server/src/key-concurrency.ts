import { ServerError } from './server-error.js';

/** Counts the generation requests each key has open, and refuses one over the limit with 429. */
export class KeyConcurrency {
  readonly #open = new Map<string, number>();
  readonly #limit: number;

  /** @param limit - Requests one key may have open at once. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * Takes a slot for `key`; call the returned function once when the request is done.
   *
   * @throws ServerError TOO_MANY_REQUESTS (429) when the key has `limit` requests open.
   */
  acquire(key: string): () => void {
    const open = this.#open.get(key) ?? 0;
    if (open >= this.#limit) {
      throw new ServerError(
        'TOO_MANY_REQUESTS',
        `this API key already has ${open} generation requests open (the limit is ${this.#limit}). Fix: wait for one to finish, or start the server with a larger --max-concurrent-per-key.`,
        { retryAfterSeconds: 1 },
      );
    }
    this.#open.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.#open.get(key) ?? 1) - 1;
      if (now === 0) this.#open.delete(key);
      else this.#open.set(key, now);
    };
  }
}
