import { GatehouseError } from '../core/index.js';
import { ORG_PROPOSALS, proposalKey, proposalPrefix, type Item, type ItemContent } from '../knowledge/index.js';
import type { ToolContext } from './types.js';

/** Proposals one token may have waiting at once. */
export const MAX_WAITING_PROPOSALS = 50;

/**
 * Proposes a change to the team's memory, invisible to agents, listed by `gatehouse memory
 * proposals` and applied only when a person runs `gatehouse memory accept ID`. Used by every
 * memory tool a token without `memory:write:org` writes the org scope through.
 *
 * INVARIANT: a proposal never changes once made: each is a new item (its key: this token, the org
 * version it was made against, a random part, the path), so the text a person read is the text
 * accepted, and it applies only onto that org version (KnowledgeStore.applyProposal).
 */
export async function proposeOrgChange(
  ctx: ToolContext,
  path: string,
  base: number,
  c: ItemContent,
  note: string,
): Promise<Item> {
  // One token cannot bury the people who review proposals, nor use up the proposal scope for others.
  const waiting = await ctx.ports.knowledge.list('memory', [ORG_PROPOSALS], {
    prefix: proposalPrefix(ctx.principal.tokenId),
    limit: MAX_WAITING_PROPOSALS,
  });
  if (waiting.length >= MAX_WAITING_PROPOSALS) {
    throw new GatehouseError(
      'limit_exceeded',
      `this token already has ${MAX_WAITING_PROPOSALS} proposals waiting for a person`,
      {
        hint: 'ask the user to have them accepted or rejected (gatehouse memory proposals) before proposing more',
      },
    );
  }
  const key = proposalKey(ctx.principal.tokenId, base, path);
  return ctx.ports.knowledge.write('memory', ORG_PROPOSALS, key, c, {
    author: { tokenId: ctx.principal.tokenId, name: ctx.principal.tokenName, trust: 'agent' },
    note,
  });
}
