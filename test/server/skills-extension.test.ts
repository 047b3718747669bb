/**
 * The MCP Skills extension's names and request parameters that src/server/mcp-skills.ts declares
 * itself (to keep the SDK's second copy of its schemas off `gatehouse mcp`'s cold start) are the
 * SDK's own: the same strings, and parameters that accept and refuse what the SDK's schemas do.
 */
import {
  GetSkillRequestParamsSchema,
  ListSkillsRequestParamsSchema,
  SKILLS_EXTENSION_ID as SDK_ID,
  SKILLS_GET_METHOD as SDK_GET,
  SKILLS_LIST_METHOD as SDK_LIST,
} from '@modelcontextprotocol/core/ext/skills';
import { describe, expect, it } from 'vitest';
import {
  GetSkillParams,
  ListSkillsParams,
  SKILLS_EXTENSION_ID,
  SKILLS_GET_METHOD,
  SKILLS_LIST_METHOD,
} from '../../src/server/mcp-skills.js';

describe('the Skills extension as Gatehouse declares it', () => {
  it('uses the SDK’s names', () => {
    expect([SKILLS_EXTENSION_ID, SKILLS_LIST_METHOD, SKILLS_GET_METHOD]).toEqual([SDK_ID, SDK_LIST, SDK_GET]);
  });

  it.each([
    [{}, true, false],
    [{ cursor: 'abc' }, true, false],
    [{ uri: 'skill://x/SKILL.md' }, true, true],
    [{ uri: 'skill://x/SKILL.md', _meta: { progressToken: 1 } }, true, true],
    [{ cursor: 5 }, false, false],
    [{ uri: 7 }, true, false],
  ])('parameters %j: list %s, get %s (as the SDK decides)', (params, list, get) => {
    expect(ListSkillsParams.safeParse(params).success).toBe(ListSkillsRequestParamsSchema.safeParse(params).success);
    expect(GetSkillParams.safeParse(params).success).toBe(GetSkillRequestParamsSchema.safeParse(params).success);
    expect(ListSkillsParams.safeParse(params).success).toBe(list);
    expect(GetSkillParams.safeParse(params).success).toBe(get);
  });
});
