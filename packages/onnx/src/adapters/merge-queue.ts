/**
 * The order in which calls use a model whose weights change (LoRA scales per call, loading and unloading
 * adapters): a first-in, first-out queue of turns. A turn is either shared — every call that needs the same
 * merged weights (the same key) and arrives while that turn is the last one queued joins it, so they run
 * together on one merge — or exclusive (a change of the adapters). A turn starts when the one before it has
 * ended: it runs its `prepare` (the merge) once, then its calls; it ends when the last of them settles.
 */

interface Turn {
  /** The merged weights the turn's calls share; undefined for an exclusive turn. */
  readonly key: string | undefined;
  /** Calls in the turn that have not settled. */
  members: number;
  /** Whether the turn has ended (no call may join it any more). */
  ended: boolean;
  /** Settles when `prepare` has run (rejects when it failed). */
  ready: Promise<void>;
  /** Settles (never rejects) when the turn has ended. */
  readonly done: Promise<void>;
  /** Ends the turn. */
  end(): void;
}

/** See the file comment: FIFO turns, calls needing the same weights share one. */
export class MergeQueue {
  #last: Turn | undefined;

  /**
   * Runs `body` in a turn with `key`: joins the last queued turn when it has the same key and has not
   * ended, else queues a new turn whose `prepare` runs once the turns before it have ended.
   *
   * @param key - The weights `body` needs; undefined for an exclusive turn (never joined).
   * @param prepare - Makes the weights current (run once per turn, before any of its calls).
   * @param body - The call.
   */
  async run<T>(key: string | undefined, prepare: () => Promise<void>, body: () => Promise<T>): Promise<T> {
    let turn = this.#last;
    if (turn === undefined || turn.ended || key === undefined || turn.key !== key) {
      const previous = turn?.done ?? Promise.resolve();
      let end!: () => void;
      const done = new Promise<void>((resolve) => {
        end = resolve;
      });
      const created: Turn = { key, members: 0, ended: false, ready: Promise.resolve(), done, end };
      created.ready = previous.then(prepare);
      // a failed prepare is reported to the turn's calls, not as an unhandled rejection
      created.ready.catch(() => undefined);
      this.#last = created;
      turn = created;
    }
    const mine = turn;
    mine.members++;
    try {
      await mine.ready;
      return await body();
    } finally {
      mine.members--;
      if (mine.members === 0) {
        mine.ended = true;
        if (this.#last === mine) this.#last = undefined;
        mine.end();
      }
    }
  }
}
