/**
 * Secrets of every shape the masking presets cover (none is real), and the part of each that must
 * never be shown: a shape may keep its visible prefix (`sk-ant-`, `AKIA`, `ghp_`…).
 */
export const ANTHROPIC = 'sk-ant-api03-CANARYaaaaBBBBccccDDDDeeee0123';
export const OPENAI = 'sk-proj-CANARYzzzzYYYYxxxxWWWW9876';
export const AWS_ID = 'AKIAIOSFODNN7CANARY1';
export const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYKEY1';
export const GITHUB = 'ghp_CANARY0123456789abcdefghijklmnopqrst';
export const GITHUB_PAT = 'github_pat_11CANARY0123456789_abcdefghijklmnopqrstuvwxyz';
export const BEARER = 'eyJhbGciOiJIUzI1NiJ9.CANARYbearer.sig';

/** The hidden parts of the shapes above (GITHUB_PAT only when asked: not every test prints it) and of a vault value. */
export function hiddenParts(vaultValue: string, opts: { githubPat?: boolean } = {}): string[] {
  return [
    vaultValue.slice(6),
    ANTHROPIC.slice(8),
    OPENAI.slice(9),
    AWS_ID.slice(4),
    AWS_SECRET,
    GITHUB.slice(4),
    ...(opts.githubPat ? [GITHUB_PAT.slice(11)] : []),
    BEARER.slice(3),
  ];
}
