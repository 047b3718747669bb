/**
 * `gatehouse sandbox init|deny|allow|status` (issue 20 item 6): a sandbox profile edited one word
 * at a time, in the configuration file (comments and the rest of the file kept). Every change is
 * validated as the sandbox will read it before the file is written; an invalid one writes nothing.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { gatehouseHome, GatehouseError } from '../core/index.js';
import { resolveProfile, type SandboxProfile } from '../sandbox/index.js';

/** Credential files and folders a new profile hides (`~` is the home of whoever runs the sandbox). */
export const INIT_DENY_READ: readonly string[] = [
  '~/.ssh',
  '~/.aws',
  '~/.azure',
  '~/.config/gcloud',
  '~/.kube',
  '~/.docker',
  '~/.gnupg',
  '~/.netrc',
  '~/.npmrc',
  '~/.pypirc',
  '~/.git-credentials',
  '~/.config/gh',
  '~/.claude.json',
  '.env',
];

/** Programs a new profile cannot run: talking to the network or other hosts is Gatehouse's job. */
export const INIT_DENY_EXEC: readonly string[] = [
  'curl',
  'wget',
  'nc',
  'ncat',
  'netcat',
  'socat',
  'telnet',
  'ssh',
  'scp',
  'sftp',
];

interface Where {
  file: string;
  doc: Document;
  profile: string;
}

function open(env: NodeJS.ProcessEnv, profile: string | undefined): Where {
  const file = env.GATEHOUSE_CONFIG ?? gatehouseHome(env).configFile;
  const doc = parseDocument(existsSync(file) ? readFileSync(file, 'utf8') : '');
  if (doc.errors.length)
    throw new GatehouseError('config_invalid', `${file} is not valid YAML: ${doc.errors[0]!.message}`, {
      hint: 'fix the file first; nothing was changed',
    });
  const name = profile ?? (doc.getIn(['sandbox', 'profile']) as string | undefined) ?? 'default';
  return { file, doc, profile: name };
}

/** Checks the profile as the sandbox will read it, then writes the file (atomically). */
function save(w: Where, env: NodeJS.ProcessEnv): SandboxProfile {
  const raw = w.doc.toJS() as { sandbox?: { profiles?: Record<string, unknown> } } | null;
  const checked = resolveProfile(w.profile, { profiles: raw?.sandbox?.profiles ?? {} }, { home: env.HOME ?? '/root' });
  const tmp = `${w.file}.tmp-${process.pid}`;
  writeFileSync(tmp, w.doc.toString(), { mode: 0o600 });
  renameSync(tmp, w.file);
  return checked;
}

function list(w: Where, key: string): string[] {
  const v = w.doc.getIn(['sandbox', 'profiles', w.profile, key]);
  const js = v && typeof v === 'object' && 'toJSON' in v ? (v as { toJSON(): unknown }).toJSON() : v;
  return Array.isArray(js) ? js.map(String) : [];
}

function needProfile(w: Where): void {
  if (!w.doc.hasIn(['sandbox', 'profiles', w.profile]))
    throw new GatehouseError('not_found', `no sandbox profile named "${w.profile}" in the configuration`, {
      hint: 'create one: gatehouse sandbox init [--profile NAME]',
    });
}

/** A new profile with the defaults, made the default one. */
export function initProfile(
  env: NodeJS.ProcessEnv,
  o: { profile?: string; workspace: string; force?: boolean },
): { file: string; profile: SandboxProfile } {
  const w = open(env, o.profile ?? 'agent');
  if (w.doc.hasIn(['sandbox', 'profiles', w.profile]) && !o.force)
    throw new GatehouseError('conflict', `sandbox profile ${w.profile} exists`, { hint: 'pass --force to replace it' });
  w.doc.setIn(['sandbox', 'profiles', w.profile], {
    workspace: resolve(o.workspace),
    denyRead: [...INIT_DENY_READ],
    denyExec: [...INIT_DENY_EXEC],
    network: 'none',
  });
  w.doc.setIn(['sandbox', 'profile'], w.profile);
  return { file: w.file, profile: save(w, env) };
}

export type PolicyChange =
  | { kind: 'read'; deny: boolean; items: string[] }
  | { kind: 'exec'; deny: boolean; items: string[] }
  | { kind: 'net'; deny: boolean; items: string[] };

/** `deny/allow read|exec|net …` on a profile. */
export function changeProfile(env: NodeJS.ProcessEnv, profile: string | undefined, c: PolicyChange): SandboxProfile {
  const w = open(env, profile);
  needProfile(w);
  const path = ['sandbox', 'profiles', w.profile];
  if (c.kind === 'read') {
    for (const p of c.items)
      if (!isAbsolute(p) && !p.startsWith('~') && p.includes('..'))
        throw new GatehouseError('usage', `${p}: give an absolute path, ~/PATH, or a path inside the workspace`);
    const now = list(w, 'denyRead');
    w.doc.setIn(
      [...path, 'denyRead'],
      c.deny ? [...new Set([...now, ...c.items])] : now.filter((p) => !c.items.includes(p)),
    );
  } else if (c.kind === 'exec') {
    const sub = c.items.find((p) => /\s/.test(p.trim()));
    if (sub)
      throw new GatehouseError('usage', `"${sub}": the sandbox denies whole programs, not subcommands`, {
        hint: 'deny the program, or judge its subcommands with the guard (the exec tool runs every command through it)',
      });
    const now = list(w, 'denyExec');
    w.doc.setIn(
      [...path, 'denyExec'],
      c.deny ? [...new Set([...now, ...c.items])] : now.filter((p) => !c.items.includes(p)),
    );
  } else {
    // deny net [--except HOST[:PORT]…] sets the allowlist to exactly those; allow net adds to it.
    const parsed = c.items.map((h) => {
      const m = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(h);
      if (!m) throw new GatehouseError('usage', `${h}: give HOST or HOST:PORT`);
      return { host: m[1]!.toLowerCase(), port: m[2] ? Number(m[2]) : 443 };
    });
    const cur = w.doc.getIn([...path, 'network']);
    const before =
      cur && typeof cur === 'object' && 'toJSON' in cur
        ? ((cur as { toJSON(): { allow?: { host: string; port: number }[] } }).toJSON().allow ?? [])
        : [];
    const next = c.deny
      ? parsed
      : [...before, ...parsed.filter((p) => !before.some((b) => b.host === p.host && b.port === p.port))];
    w.doc.setIn([...path, 'network'], next.length ? { allow: next } : 'none');
  }
  return save(w, env);
}

/** The effective profile (as the sandbox reads it). */
export function profileStatus(env: NodeJS.ProcessEnv, profile: string | undefined): SandboxProfile {
  const w = open(env, profile);
  const raw = w.doc.toJS() as { sandbox?: { profiles?: Record<string, unknown> } } | null;
  return resolveProfile(w.profile, { profiles: raw?.sandbox?.profiles ?? {} }, { home: env.HOME ?? '/root' });
}
