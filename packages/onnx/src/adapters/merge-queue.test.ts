import { describe, expect, it } from 'vitest';
import { MergeQueue } from './merge-queue.js';

/** A promise and its resolver, to hold a call open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('MergeQueue', () => {
  it('calls with the same key share one prepare and run together', async () => {
    const queue = new MergeQueue();
    const log: string[] = [];
    const g = gate();
    const prepare = async () => {
      log.push('prepare');
    };
    const a = queue.run('k', prepare, async () => {
      log.push('a start');
      await g.promise;
      log.push('a end');
    });
    const b = queue.run('k', prepare, async () => {
      log.push('b runs');
    });
    await b; // b did not wait for a
    g.open();
    await a;
    expect(log).toEqual(['prepare', 'a start', 'b runs', 'a end']);
  });

  it('a call with another key waits until the running turn ends, then prepares', async () => {
    const queue = new MergeQueue();
    const log: string[] = [];
    const g = gate();
    const a = queue.run(
      'k1',
      async () => void log.push('prepare k1'),
      async () => {
        await g.promise;
        log.push('a end');
      },
    );
    const b = queue.run(
      'k2',
      async () => void log.push('prepare k2'),
      async () => void log.push('b'),
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['prepare k1']);
    g.open();
    await Promise.all([a, b]);
    expect(log).toEqual(['prepare k1', 'a end', 'prepare k2', 'b']);
  });

  it('only the last queued turn is joined: k1, k2, k1 are three turns in order', async () => {
    const queue = new MergeQueue();
    const log: string[] = [];
    const turn = (key: string, name: string) =>
      queue.run(
        key,
        async () => void log.push(`prepare ${key}`),
        async () => void log.push(name),
      );
    await Promise.all([turn('k1', 'a'), turn('k2', 'b'), turn('k1', 'c')]);
    expect(log).toEqual(['prepare k1', 'a', 'prepare k2', 'b', 'prepare k1', 'c']);
  });

  it('exclusive turns (key undefined) never share, and calls after them wait', async () => {
    const queue = new MergeQueue();
    const log: string[] = [];
    const g = gate();
    const noop = async () => undefined;
    const x = queue.run(undefined, noop, async () => {
      log.push('x start');
      await g.promise;
      log.push('x end');
    });
    const y = queue.run(undefined, noop, async () => void log.push('y'));
    const z = queue.run('k', noop, async () => void log.push('z'));
    await new Promise((r) => setTimeout(r, 10));
    expect(log).toEqual(['x start']);
    g.open();
    await Promise.all([x, y, z]);
    expect(log).toEqual(['x start', 'x end', 'y', 'z']);
  });

  it('a failed prepare rejects its calls, not later ones', async () => {
    const queue = new MergeQueue();
    const failing = queue.run(
      'k1',
      async () => Promise.reject(new Error('merge failed')),
      async () => 'never',
    );
    const joined = queue.run(
      'k1',
      async () => undefined,
      async () => 'never',
    );
    const later = queue.run(
      'k2',
      async () => undefined,
      async () => 'ran',
    );
    await expect(failing).rejects.toThrow('merge failed');
    await expect(joined).rejects.toThrow('merge failed');
    await expect(later).resolves.toBe('ran');
  });

  it('a body that throws ends its turn', async () => {
    const queue = new MergeQueue();
    await expect(
      queue.run(
        'k',
        async () => undefined,
        async () => Promise.reject(new Error('boom')),
      ),
    ).rejects.toThrow('boom');
    await expect(
      queue.run(
        'j',
        async () => undefined,
        async () => 1,
      ),
    ).resolves.toBe(1);
  });
});
