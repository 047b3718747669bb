import { randomBytes } from 'node:crypto';

/**
 * Where changes to the org scope wait for a person, from tokens that may not write it, and how a
 * proposal is keyed: `<token id>/<base version>-<random>/<path>`. The base version is the org
 * version the change was made against (0: a new path); the random part makes every proposal a new
 * item, so it never changes after a person reads it. Written by the memory tools, applied by
 * KnowledgeStore.applyProposal, listed by the operators' CLI: this is the one place that knows it.
 */
export const ORG_PROPOSALS = 'proposal:org';

export function proposalKey(tokenId: string, base: number, path: string): string {
  return `${tokenId}/${base}-${randomBytes(6).toString('base64url')}/${path}`;
}

/** The proposing token, base version and path of a proposal's key; undefined when it is not one. */
export function parseProposalKey(key: string): { tokenId: string; base: number; path: string } | undefined {
  const m = /^([^/]+)\/(\d+)-[A-Za-z0-9_-]+\/(.+)$/.exec(key);
  return m ? { tokenId: m[1]!, base: Number(m[2]), path: m[3]! } : undefined;
}

/** The key prefix of one token's proposals. */
export const proposalPrefix = (tokenId: string): string => `${tokenId}/`;
