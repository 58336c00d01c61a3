/** How `prune` shows a retention plan: every keep/delete decision with its reasons. */
import { formatBytes } from '../util/format.js';
import { reasonTexts, type RetentionEntry } from '../policy/plan-retention.js';
import type { StorePlan } from './retention.js';

export function renderPlan(plan: StorePlan, dryRun: boolean): string {
  const s = plan.snapshots;
  const del = dryRun ? 'would delete' : 'deleted';
  const lines = [
    ...s.keep.map((k) => `keep    ${k.id}  ${reasonTexts(k.reasons).join('; ')}`),
    ...s.remove.map((r) => `${dryRun ? 'delete' : 'deleted'} ${r.id}  ${reasonTexts(r.reasons).join('; ')}`),
    ...plan.saves.keep.map((k) => `keep    ${k.id}  (save) ${reasonTexts(k.reasons).join('; ')}`),
    ...plan.saves.remove.map((r) => `${dryRun ? 'delete' : 'deleted'} ${r.id}  (save) ${reasonTexts(r.reasons).join('; ')}`),
    `${s.keep.length + plan.saves.keep.length} kept, ${s.remove.length + plan.saves.remove.length} ${del}; snapshots ${dryRun ? 'would free' : 'freed'} ${formatBytes(s.freedBytes)}, ${formatBytes(s.keptBytes)} kept`,
    ...s.warnings.map((w) => `warning: ${w}`),
  ];
  return lines.join('\n');
}

export function planJson(plan: StorePlan): Record<string, unknown> {
  return {
    keep: [...plan.snapshots.keep.map(entryJson), ...plan.saves.keep.map((k) => ({ ...entryJson(k), kind: 'save' }))],
    remove: [...plan.snapshots.remove.map(entryJson), ...plan.saves.remove.map((r) => ({ ...entryJson(r), kind: 'save' }))],
    freed_bytes: plan.snapshots.freedBytes,
    kept_bytes: plan.snapshots.keptBytes,
    warnings: plan.snapshots.warnings,
  };
}

/** An entry as `prune --json` prints it: `reasons` the texts people read, `codes` what scripts branch on. */
function entryJson(e: RetentionEntry): { id: string; reasons: string[]; codes: string[] } {
  return { id: e.id, reasons: reasonTexts(e.reasons), codes: e.reasons.map((r) => r.code) };
}
