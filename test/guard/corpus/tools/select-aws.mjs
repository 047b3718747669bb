#!/usr/bin/env node
// Picks a spread of awscli examples: at most two ordinary commands per AWS service, plus up to
// eight per service whose operation touches credentials, data transfer or destruction (the
// families the corpus must be rich in). Deterministic: candidates are ordered by a hash.
//
// Usage: node select-aws.mjs IN.jsonl OUT.jsonl
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const [inp, out] = process.argv.slice(2);
const rows = readFileSync(inp, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const interesting =
  /get-secret-value|with-decryption|get-session-token|assume-role|create-access-key|get-login-password|get-authorization-token|generate-db-auth-token|get-credentials|get-federation-token|get-token|decrypt|get-password-data|create-login-profile|update-login-profile|get-parameters?\b|export-|get-access-key|create-service-specific-credential|reset-service-specific|get-object|s3 cp|s3 sync|s3 rm|s3 rb|s3 mv|delete-bucket|terminate-instances|delete-db|delete-stack|put-bucket-policy|put-user-policy|attach-user-policy|create-user|delete-user|ssm send-command|start-session|run-instances|configure|invoke/;
const h = (s) => createHash('sha1').update(s).digest('hex');
rows.sort((a, b) => (h(a.cmd) < h(b.cmd) ? -1 : 1));
const bySvc = new Map();
const picked = [];
const seenPage = new Set();
for (const r of rows) {
  if (seenPage.has(r.page)) continue;
  const svc = r.page.split('/')[0];
  const n = bySvc.get(svc) ?? 0;
  const intr = interesting.test(r.cmd);
  if (n >= 2 && !intr) continue;
  if (intr && n >= 8) continue;
  bySvc.set(svc, n + 1);
  seenPage.add(r.page);
  picked.push(r);
}
writeFileSync(out, picked.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.error(`select-aws: ${picked.length} of ${rows.length}`);
