/**
 * Model usage (issue 20 item 3): token counts read from model APIs' answers as they pass (tap.ts),
 * kept per token, target and day, with per-token daily budgets (ledger.ts). Both doors to a model
 * target (`/gateway` and the `api_request` tool) open a `UsageMeter` through the same code
 * (src/tools/http-target.ts), so counting and budgets hold on either.
 */
export { UsageTap, type ModelUsage } from './tap.js';
export { UsageLedger, UsageMeter, dayOf, type UsageRow } from './ledger.js';
