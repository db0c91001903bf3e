/**
 * The 32-bit Mersenne Twister (MT19937) of Matsumoto & Nishimura, as used by torch's CPU generator.
 *
 * Seeding is the reference `init_genrand`; output words are tempered exactly as in the reference code,
 * so `new Mt19937(5489).nextUint32()` is 3499211612, the engine's well-known first output.
 */

/** Words of state. */
const N = 624;
/** Offset of the word mixed into each twist. */
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
/** 2^-24: scales a 24-bit integer to a float32 uniform in [0, 1). */
const FLOAT_UNIT = 2 ** -24;

/** The 32-bit Mersenne Twister engine (MT19937) torch's CPU generator runs on. */
export class Mt19937 {
  /**
   * The state words, held as signed 32-bit integers (the same bits as the reference's uint32): V8 keeps
   * every value of the twist and the tempering in 32-bit integer registers, where a `Uint32Array` would
   * turn words ≥ 2^31 into doubles (about 4× slower per word).
   */
  private readonly state = new Int32Array(N);
  private index = N;

  /** @param seed - a 32-bit unsigned seed (the caller reduces wider seeds). */
  constructor(seed: number) {
    this.seed(seed);
  }

  /** Re-seeds with `init_genrand(seed)`; `seed` must be an integer in [0, 2^32). */
  seed(seed: number): void {
    const mt = this.state;
    mt[0] = seed | 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]!;
      const x = (prev ^ (prev >>> 30)) >>> 0;
      // 1812433253 * x mod 2^32, split in 16-bit halves so no product exceeds 2^53.
      mt[i] = (((((x & 0xffff0000) >>> 16) * 1812433253) << 16) + (x & 0x0000ffff) * 1812433253 + i) | 0;
    }
    this.index = N;
  }

  /** Next 32-bit output word, as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++]! | 0;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * Fills `out[start..end)` with float uniforms in [0, 1) on the 2^-24 grid, one word each:
   * `(word & 0xFFFFFF) · 2^-24` — the same words, in the same order, as calling {@link nextUint32}
   * per element, without a call per word (torch's `randn` draws 131072 of them for one SD latent).
   */
  fillUniform24(out: Float32Array, start = 0, end = out.length): void {
    const mt = this.state;
    let i = start;
    while (i < end) {
      if (this.index >= N) this.twist();
      // One run over the words left before the next twist (a short loop: V8 optimizes the whole method).
      let index = this.index;
      const stop = Math.min(end, i + N - index);
      for (; i < stop; i++) {
        let y = mt[index++]! | 0;
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        out[i] = (y & 0xffffff) * FLOAT_UNIT;
      }
      this.index = index;
    }
  }

  /**
   * Copies the state words into `target` (from element `offset` on) and returns the index of the next
   * word, for a kernel that draws the same words elsewhere (the WebAssembly randn); {@link restoreState}
   * takes them back.
   */
  saveState(target: Int32Array, offset: number): number {
    target.set(this.state, offset);
    return this.index;
  }

  /** Takes back state words (`source[offset..offset+624)`) and the index a kernel left them at. */
  restoreState(source: Int32Array, offset: number, index: number): void {
    this.state.set(source.subarray(offset, offset + N));
    this.index = index;
  }

  /**
   * Regenerates all N words of state (split in three runs so no index needs a modulo). The odd-word
   * term `y & 1 ? MATRIX_A : 0` is computed without a branch, as `−(y & 1) & MATRIX_A` (the branch is
   * a coin flip per word, so a mispredict every other word).
   */
  private twist(): void {
    const mt = this.state;
    let k = 0;
    for (; k < N - M; k++) {
      const y = (mt[k]! & UPPER_MASK) | (mt[k + 1]! & LOWER_MASK);
      mt[k] = mt[k + M]! ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    for (; k < N - 1; k++) {
      const y = (mt[k]! & UPPER_MASK) | (mt[k + 1]! & LOWER_MASK);
      mt[k] = mt[k + M - N]! ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    const y = (mt[N - 1]! & UPPER_MASK) | (mt[0]! & LOWER_MASK);
    mt[N - 1] = mt[M - 1]! ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    this.index = 0;
  }
}
