/**
 * Seeded randomness for tests: the seed comes from CKPTD_FAULT_SEED or is drawn, and is printed,
 * so that a failing run can be replayed exactly.
 */

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for `name` (CKPTD_FAULT_SEED, else a new one), printed with how to replay it. */
export function testSeed(name: string): number {
  const fromEnv = process.env.CKPTD_FAULT_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : Math.floor(Math.random() * 2 ** 31);
  console.log(`${name} seed ${seed} (replay: CKPTD_FAULT_SEED=${seed})`);
  return seed;
}
