/**
 * Model usage (issue 20 item 3): token counts read from model APIs' answers as they stream through
 * `/gateway` (tap.ts), kept per token, target and day, with per-token daily budgets (ledger.ts).
 */
export { UsageTap, type ModelUsage } from './tap.js';
export { UsageLedger, dayOf, type UsageRow } from './ledger.js';
