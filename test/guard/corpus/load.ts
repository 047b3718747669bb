// Loader for the guard's outside corpus (commands.jsonl): command lines drawn from material the
// project did not write (Debian man pages, awscli examples, package shell scripts), labelled from
// their meaning before any guard saw them. See README.md beside this file for the label policy.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type CorpusLabel = 'allow' | 'approve' | 'deny';

export const CORPUS_LABELS: readonly CorpusLabel[] = ['allow', 'approve', 'deny'];

/** The families plus the few this corpus needed (see README.md, "Families"). */
export const CORPUS_FAMILIES = [
  'benign',
  'readonly-form',
  'embedded-code',
  'secret-disclosure',
  'exfiltration',
  'interpreter',
  'indirection',
  'destructive-cli',
  'fs-destructive',
  'system',
  'privilege',
  'remote-code',
  'remote-exec',
  'network',
  'state-change',
  'data-copy',
] as const;

export type CorpusFamily = (typeof CORPUS_FAMILIES)[number];

export interface CorpusLine {
  /** The shell command line exactly as the agent would send it (may span lines: heredocs). */
  cmd: string;
  label: CorpusLabel;
  family: CorpusFamily;
  /** One line saying why the label is what it is. */
  reason: string;
  /** Where the line came from: "debian PKG: man PAGE(SECTION) SECTION", an awscli example file, a script path, or "written". */
  source: string;
}

export const CORPUS_PATH = fileURLToPath(new URL('./commands.jsonl', import.meta.url));

export function loadGuardCommandCorpus(path: string = CORPUS_PATH): CorpusLine[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const o = JSON.parse(l) as Partial<CorpusLine>;
      if (
        typeof o.cmd !== 'string' ||
        typeof o.reason !== 'string' ||
        typeof o.source !== 'string' ||
        !CORPUS_LABELS.includes(o.label as CorpusLabel) ||
        !(CORPUS_FAMILIES as readonly string[]).includes(o.family as string)
      ) {
        throw new Error(`commands.jsonl line ${i + 1} is malformed`);
      }
      return o as CorpusLine;
    });
}
