/**
 * A `Store` wrapper that injects faults: the Nth call of a chosen step fails, before the real call
 * (nothing happened) or after it (it happened, the caller still sees a failure). A fault is either
 * an `error` (the call throws, as a failing disk or network would; a staged snapshot whose commit
 * fails is abandoned, as the real commit does) or a `kill` (the process dies at that point: the
 * call throws and nothing is cleaned up, and every later call of this instance throws too). After
 * a kill, the test reopens the store (a new instance on the same backing store) and checks that
 * `sweep` leaves it clean.
 *
 * Steps are the `Store` methods plus `commit` and `abandon` of a staged snapshot.
 */
import type { Store, StagedSnapshot } from '../../src/store/store.js';

export type StoreStep = Exclude<keyof Store, 'location'> | 'commit' | 'abandon';

export interface Fault {
  step: StoreStep;
  /** Which call of `step` fails, 1-based (default 1): calls are counted from when the fault is armed. */
  nth?: number;
  when: 'before' | 'after';
  kind: 'error' | 'kill';
}

/** The error a fault throws. */
export class InjectedFault extends Error {
  constructor(
    readonly fault: Fault,
    readonly call: number,
  ) {
    super(`injected ${fault.kind} ${fault.when} ${fault.step} (call ${call})`);
    this.name = 'InjectedFault';
  }
}

export interface FaultyStore extends Store {
  /** Arms `fault` (replacing any armed fault of the same step); its call count starts at 0. */
  inject(fault: Fault): void;
  /** Disarms every fault. */
  clear(): void;
  /** Calls of `step` made through this wrapper so far. */
  calls(step: StoreStep): number;
  /** True once a `kill` fault fired: the "process" is gone, every call throws. */
  readonly killed: boolean;
}

export function faultyStore(inner: Store, faults: Fault[] = []): FaultyStore {
  const armed = new Map<StoreStep, { fault: Fault; seen: number }>();
  const counts = new Map<StoreStep, number>();
  let killed = false;
  for (const f of faults) armed.set(f.step, { fault: f, seen: 0 });

  /** Runs `real` as call of `step`, with the armed fault of that step, if it is this call. */
  const step = async <T>(name: StoreStep, real: () => Promise<T>, onError?: (result: T | undefined) => Promise<void>): Promise<T> => {
    if (killed) throw new Error(`store ${inner.location}: this process was killed (injected); reopen the store`);
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const a = armed.get(name);
    const fires = a !== undefined && ++a.seen === (a.fault.nth ?? 1);
    const fail = async (result: T | undefined): Promise<never> => {
      const err = new InjectedFault(a!.fault, a!.seen);
      if (a!.fault.kind === 'kill') killed = true;
      else if (onError) await onError(result);
      throw err;
    };
    if (fires && a.fault.when === 'before') await fail(undefined);
    const result = await real();
    if (fires && a.fault.when === 'after') await fail(result);
    return result;
  };

  const wrapStaged = (staged: StagedSnapshot): StagedSnapshot => ({
    id: staged.id,
    meta: staged.meta,
    // A real commit that fails removes what it staged: an injected error does the same; a kill does not.
    commit: () => step('commit', () => staged.commit(), async () => staged.abandon()),
    abandon: () => step('abandon', () => staged.abandon()),
  });

  const store: FaultyStore = {
    get location() {
      return inner.location;
    },
    get killed() {
      return killed;
    },
    inject(fault) {
      armed.set(fault.step, { fault, seen: 0 });
    },
    clear() {
      armed.clear();
    },
    calls: (name) => counts.get(name) ?? 0,
    listSnapshots: () => step('listSnapshots', () => inner.listSnapshots()),
    listSnapshotHeaders: () => step('listSnapshotHeaders', () => inner.listSnapshotHeaders()),
    listSaves: () => step('listSaves', () => inner.listSaves()),
    findBroken: () => step('findBroken', () => inner.findBroken()),
    newestGood: (opts) => step('newestGood', () => inner.newestGood(opts)),
    newestGoodHeader: () => step('newestGoodHeader', () => inner.newestGoodHeader()),
    lastKnown: (paths) => step('lastKnown', () => inner.lastKnown(paths)),
    resolve: (idOrPrefix) => step('resolve', () => inner.resolve(idOrPrefix)),
    openFile: (record, relPath) => step('openFile', () => inner.openFile(record, relPath)),
    copyFileOut: (record, relPath, dest, opts) => step('copyFileOut', () => inner.copyFileOut(record, relPath, dest, opts)),
    readLink: (record, relPath) => step('readLink', () => inner.readLink(record, relPath)),
    // An error after staging: the caller never gets the handle, so the staged snapshot is abandoned (a kill leaves it).
    stageSnapshot: (opts) =>
      step('stageSnapshot', async () => wrapStaged(await inner.stageSnapshot(opts)), async (staged) => staged?.abandon()),
    importSnapshot: (from, record, opts) => step('importSnapshot', () => inner.importSnapshot(from, record, opts)),
    commitSave: (opts) => step('commitSave', () => inner.commitSave(opts)),
    updateLabels: (idOrPrefix, change, opts) => step('updateLabels', () => inner.updateLabels(idOrPrefix, change, opts)),
    remove: (id, opts) => step('remove', () => inner.remove(id, opts)),
    storedUnits: (record) => step('storedUnits', () => inner.storedUnits(record)),
    verify: (record, onBytes) => step('verify', () => inner.verify(record, onBytes)),
    markVerified: (result, now) => step('markVerified', () => inner.markVerified(result, now)),
    ensure: () => step('ensure', () => inner.ensure()),
    freeBytes: () => step('freeBytes', () => inner.freeBytes()),
    freeInodes: () => step('freeInodes', () => inner.freeInodes()),
    sharesCopyOnWrite: () => step('sharesCopyOnWrite', () => inner.sharesCopyOnWrite()),
    lockHolder: () => step('lockHolder', () => inner.lockHolder()),
    lock: (info, onCompromised) => step('lock', () => inner.lock(info, onCompromised)),
    sweep: (saveDirs) => step('sweep', () => inner.sweep(saveDirs)),
    signature: () => step('signature', () => inner.signature()),
  };
  if (inner.watchActivity) {
    const watch = inner.watchActivity.bind(inner);
    store.watchActivity = (onActivity) => watch(onActivity);
  }
  return store;
}
