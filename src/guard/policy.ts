import { credentialNameConfig, type CredentialNameConfig } from './credential-names.js';
import { readFileSync } from 'node:fs';
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node as YNode,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { GatehouseError } from '../core/index.js';
import { GUARD_RUN_CONTEXTS, type GuardRunContext, type Verdict } from './types.js';

/**
 * Policy files (YAML). Validation errors name the file, line and field, e.g.
 * `policies/x.yaml:12: commands.rules[0].decision: must be one of allow, approve, deny, redirect`.
 *
 * Precedence (documented in policies/default.yaml):
 *  1. Fail-closed findings (parse errors, dynamic program names, limits) are never lowered below approve.
 *  2. Built-in `deny` findings (catastrophes, remote code, secrets, reverse shells) are final.
 *  3. The first matching user command rule decides that argv (it may lower a built-in approve).
 *  4. Built-in approve findings.
 *  5. A command the built-in table (src/guard/known-programs.ts) or `commands.allowlist` judges
 *     read-only or harmless is allowed; any other is `defaults.unknown_command` for the context
 *     it runs in (allow is a judgment, not the fallback).
 *  Across the commands of one compound command, the most restrictive verdict wins.
 */

/** A context key of `defaults.unknown_command`: where the command runs, or `default` for any other. */
export type UnknownContext = GuardRunContext | 'default';
const UNKNOWN_KEYS: readonly UnknownContext[] = [...GUARD_RUN_CONTEXTS, 'default'];

/**
 * The verdict for a command no table or rule judges harmless, when a policy does not say. SSH
 * targets and interactive sessions are production: a person sees what the guard cannot vouch for.
 * The sandbox is itself the boundary (no network unless allowlisted, no credentials, a scratch
 * filesystem), so there the unknown runs. The CLI (`guard check`) and callers that name no context
 * get the production answer, so a preview never promises more than ssh_exec would do.
 */
export const DEFAULT_UNKNOWN: Readonly<Record<UnknownContext, Verdict>> = {
  ssh: 'approve',
  session: 'approve',
  sandbox: 'allow',
  cli: 'approve',
  default: 'approve',
};
export interface CommandRule {
  id: string;
  commands: string[];
  args: RegExp[];
  notArgs: RegExp[];
  decision: Verdict;
  message: string;
  redirect?: string;
}
export interface PathRule {
  id: string;
  op: 'read' | 'write' | 'any';
  paths: string[];
  decision: Verdict;
  message: string;
}
export interface HttpRule {
  id: string;
  methods: string[];
  paths: string[];
  graphql?: 'mutation' | 'any';
  decision: Verdict;
  message: string;
}

export interface Policy {
  name: string;
  file: string;
  description: string;
  /** `defaults.unknown_command`, resolved per context (a scalar in the file applies to every context). */
  unknownCommand: Readonly<Record<UnknownContext, Verdict>>;
  /** `defaults.sudo_requires_approval`: sudo/doas of a read-only command needs approval too (default false). */
  sudoRequiresApproval: boolean;
  parseError: 'approve' | 'deny';
  allowlist: { prog: string; sub?: string }[];
  readOnlyOnly: boolean;
  commandRules: CommandRule[];
  pathRules: PathRule[];
  writeAllowed: string[];
  httpRules: HttpRule[];
  httpUnknownWrite: Verdict;
  /** `commands.script_paths_allowed`: script and project files whose code may run unread (globs). */
  scriptPathsAllowed: string[];
  /** `secrets.credential_names`: names added to (`secret`, `maybe`) or exempt from (`ignore`) the built-in heuristics. */
  credentialNames?: CredentialNameConfig;
  appliesTo: { tokens: string[]; targets: string[] };
}

const VERDICTS = ['allow', 'approve', 'deny', 'redirect'];

class V {
  constructor(
    private readonly file: string,
    private readonly lc: LineCounter,
  ) {}
  err(node: YNode | null | undefined, field: string, msg: string): never {
    const off = node?.range?.[0] ?? 0;
    const line = this.lc.linePos(off).line;
    throw new GatehouseError('policy_invalid', `${this.file}:${line}: ${field}: ${msg}`, {
      hint: 'fix the policy file and reload',
      details: { file: this.file, line, field },
    });
  }
  map(n: YNode | null | undefined, field: string): YAMLMap | undefined {
    if (n === undefined || n === null) return undefined;
    if (!isMap(n)) this.err(n, field, 'must be a mapping');
    return n as YAMLMap;
  }
  keys(m: YAMLMap | undefined, field: string, allowed: string[]): void {
    if (!m) return;
    for (const p of m.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      if (!allowed.includes(k))
        this.err(p.key as YNode, field ? `${field}.${k}` : k, `unknown field (expected one of ${allowed.join(', ')})`);
    }
  }
  seq(n: YNode, field: string): YAMLSeq {
    if (!isSeq(n)) this.err(n, field, 'must be a list');
    return n as YAMLSeq;
  }
  get(m: YAMLMap | undefined, key: string): YNode | undefined {
    if (!m) return undefined;
    return (m.get(key, true) as YNode | undefined) ?? undefined;
  }
  str(n: YNode | undefined, field: string, dflt?: string): string {
    if (n === undefined) {
      if (dflt === undefined) this.err(n, field, 'is required');
      return dflt;
    }
    if (!isScalar(n) || (typeof n.value !== 'string' && typeof n.value !== 'number'))
      this.err(n, field, 'must be a string');
    return String(n.value);
  }
  bool(n: YNode | undefined, field: string, dflt: boolean): boolean {
    if (n === undefined) return dflt;
    if (!isScalar(n) || typeof n.value !== 'boolean') this.err(n, field, 'must be true or false');
    return n.value as boolean;
  }
  list(n: YNode | undefined, field: string): string[] {
    if (n === undefined) return [];
    if (isScalar(n)) return [this.str(n, field)];
    if (!isSeq(n)) this.err(n, field, 'must be a list of strings');
    return n.items.map((x, i) => this.str(x as YNode, `${field}[${i}]`));
  }
  verdict(n: YNode | undefined, field: string, dflt?: Verdict, allowed = VERDICTS): Verdict {
    const s = this.str(n, field, dflt);
    if (!allowed.includes(s)) this.err(n, field, `must be one of ${allowed.join(', ')}`);
    return s as Verdict;
  }
  regexes(n: YNode | undefined, field: string): RegExp[] {
    return this.list(n, field).map((s, i) => {
      try {
        return new RegExp(s);
      } catch (e) {
        return this.err(
          isSeq(n) ? (n.items[i] as YNode) : n,
          `${field}[${i}]`,
          `invalid regular expression (${(e as Error).message})`,
        );
      }
    });
  }
}

export function parsePolicy(text: string, file: string): Policy {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const v = new V(file, lc);
  const e = doc.errors[0];
  if (e) {
    const line = lc.linePos(e.pos[0]).line;
    throw new GatehouseError('policy_invalid', `${file}:${line}: YAML syntax error: ${e.message.split('\n')[0]}`, {
      hint: 'fix the YAML syntax',
      details: { file, line },
    });
  }
  const root =
    v.map(doc.contents as YNode, '(document)') ?? v.err(doc.contents as YNode, '(document)', 'policy file is empty');
  v.keys(root, '', [
    'version',
    'name',
    'description',
    'applies_to',
    'defaults',
    'commands',
    'paths',
    'http',
    'secrets',
  ]);
  const version = v.str(v.get(root, 'version'), 'version', '1');
  if (version !== '1') v.err(v.get(root, 'version'), 'version', 'only version 1 is supported');
  const name = v.str(v.get(root, 'name'), 'name');
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name)) v.err(v.get(root, 'name'), 'name', 'must be letters, digits, - or _');
  const defaults = v.map(v.get(root, 'defaults'), 'defaults');
  v.keys(defaults, 'defaults', [
    'unknown_command',
    'parse_error',
    'read_only_only',
    'http_unknown_write',
    'sudo_requires_approval',
  ]);
  const applies = v.map(v.get(root, 'applies_to'), 'applies_to');
  v.keys(applies, 'applies_to', ['tokens', 'targets']);
  const cmds = v.map(v.get(root, 'commands'), 'commands');
  v.keys(cmds, 'commands', ['allowlist', 'rules', 'script_paths_allowed']);
  const rulesNode = v.get(cmds, 'rules');
  const commandRules: CommandRule[] = [];
  if (rulesNode !== undefined) {
    v.seq(rulesNode, 'commands.rules').items.forEach((item, i) => {
      const f = `commands.rules[${i}]`;
      const m = v.map(item as YNode, f) ?? v.err(item as YNode, f, 'must be a mapping');
      v.keys(m, f, ['id', 'commands', 'args', 'not_args', 'decision', 'message', 'redirect']);
      const decision = v.verdict(v.get(m, 'decision'), `${f}.decision`);
      const redirect = v.get(m, 'redirect') !== undefined ? v.str(v.get(m, 'redirect'), `${f}.redirect`) : undefined;
      if (decision === 'redirect' && !redirect) v.err(m, `${f}.redirect`, 'is required when decision is redirect');
      const commands = v.list(v.get(m, 'commands'), `${f}.commands`);
      if (!commands.length) v.err(m, `${f}.commands`, 'is required (list of program names)');
      commandRules.push({
        id: v.str(v.get(m, 'id'), `${f}.id`, `rule-${i}`),
        commands,
        args: v.regexes(v.get(m, 'args'), `${f}.args`),
        notArgs: v.regexes(v.get(m, 'not_args'), `${f}.not_args`),
        decision,
        message: v.str(v.get(m, 'message'), `${f}.message`, `matched policy rule`),
        ...(redirect ? { redirect } : {}),
      });
    });
  }
  const paths = v.map(v.get(root, 'paths'), 'paths');
  v.keys(paths, 'paths', ['write_allowed', 'rules']);
  const pathRules: PathRule[] = [];
  const pr = v.get(paths, 'rules');
  if (pr !== undefined) {
    v.seq(pr, 'paths.rules').items.forEach((item, i) => {
      const f = `paths.rules[${i}]`;
      const m = v.map(item as YNode, f) ?? v.err(item as YNode, f, 'must be a mapping');
      v.keys(m, f, ['id', 'op', 'paths', 'decision', 'message']);
      const op = v.str(v.get(m, 'op'), `${f}.op`, 'any');
      if (!['read', 'write', 'any'].includes(op)) v.err(v.get(m, 'op'), `${f}.op`, 'must be read, write or any');
      pathRules.push({
        id: v.str(v.get(m, 'id'), `${f}.id`, `path-${i}`),
        op: op as PathRule['op'],
        paths: v.list(v.get(m, 'paths'), `${f}.paths`),
        decision: v.verdict(v.get(m, 'decision'), `${f}.decision`, undefined, ['allow', 'approve', 'deny']),
        message: v.str(v.get(m, 'message'), `${f}.message`, 'matched path rule'),
      });
    });
  }
  const http = v.map(v.get(root, 'http'), 'http');
  v.keys(http, 'http', ['rules']);
  const httpRules: HttpRule[] = [];
  const hr = v.get(http, 'rules');
  if (hr !== undefined) {
    v.seq(hr, 'http.rules').items.forEach((item, i) => {
      const f = `http.rules[${i}]`;
      const m = v.map(item as YNode, f) ?? v.err(item as YNode, f, 'must be a mapping');
      v.keys(m, f, ['id', 'methods', 'paths', 'graphql', 'decision', 'message']);
      const gq = v.get(m, 'graphql') !== undefined ? v.str(v.get(m, 'graphql'), `${f}.graphql`) : undefined;
      if (gq !== undefined && gq !== 'mutation' && gq !== 'any')
        v.err(v.get(m, 'graphql'), `${f}.graphql`, 'must be mutation or any');
      httpRules.push({
        id: v.str(v.get(m, 'id'), `${f}.id`, `http-${i}`),
        methods: v.list(v.get(m, 'methods'), `${f}.methods`).map((x) => x.toUpperCase()),
        paths: v.list(v.get(m, 'paths'), `${f}.paths`),
        ...(gq ? { graphql: gq as 'mutation' | 'any' } : {}),
        decision: v.verdict(v.get(m, 'decision'), `${f}.decision`, undefined, ['allow', 'approve', 'deny']),
        message: v.str(v.get(m, 'message'), `${f}.message`, 'matched HTTP rule'),
      });
    });
  }
  const secrets = v.map(v.get(root, 'secrets'), 'secrets');
  v.keys(secrets, 'secrets', ['credential_names']);
  const cn = v.map(v.get(secrets, 'credential_names'), 'secrets.credential_names');
  v.keys(cn, 'secrets.credential_names', ['secret', 'maybe', 'ignore']);
  // Case-insensitive, like the built-in heuristics (src/guard/credential-names.ts); each is checked here.
  const names = (k: 'secret' | 'maybe' | 'ignore'): string[] => {
    v.regexes(v.get(cn, k), `secrets.credential_names.${k}`);
    return v.list(v.get(cn, k), `secrets.credential_names.${k}`);
  };
  const credentialNames = cn
    ? credentialNameConfig({ secret: names('secret'), maybe: names('maybe'), ignore: names('ignore') })
    : undefined;
  const allowlist = v.list(v.get(cmds, 'allowlist'), 'commands.allowlist').map((s) => {
    const [prog = '', sub] = s.trim().split(/\s+/, 2);
    return sub ? { prog, sub } : { prog };
  });
  return {
    name,
    file,
    description: v.str(v.get(root, 'description'), 'description', ''),
    unknownCommand: unknownCommand(v, v.get(defaults, 'unknown_command')),
    sudoRequiresApproval: v.bool(v.get(defaults, 'sudo_requires_approval'), 'defaults.sudo_requires_approval', false),
    parseError: v.verdict(v.get(defaults, 'parse_error'), 'defaults.parse_error', 'approve', ['approve', 'deny']) as
      'approve' | 'deny',
    readOnlyOnly: v.bool(v.get(defaults, 'read_only_only'), 'defaults.read_only_only', false),
    httpUnknownWrite: v.verdict(v.get(defaults, 'http_unknown_write'), 'defaults.http_unknown_write', 'allow', [
      'allow',
      'approve',
      'deny',
    ]),
    allowlist,
    commandRules,
    pathRules,
    writeAllowed: v.list(v.get(paths, 'write_allowed'), 'paths.write_allowed'),
    httpRules,
    scriptPathsAllowed: v.list(v.get(cmds, 'script_paths_allowed'), 'commands.script_paths_allowed'),
    ...(credentialNames ? { credentialNames } : {}),
    appliesTo: {
      tokens: v.list(v.get(applies, 'tokens'), 'applies_to.tokens'),
      targets: v.list(v.get(applies, 'targets'), 'applies_to.targets'),
    },
  };
}

/**
 * `unknown_command: approve` (every context) or `unknown_command: { ssh: approve, sandbox: allow }`
 * (the contexts named; the others keep DEFAULT_UNKNOWN, `default` covers callers naming none).
 */
function unknownCommand(v: V, n: YNode | undefined): Record<UnknownContext, Verdict> {
  const out: Record<UnknownContext, Verdict> = { ...DEFAULT_UNKNOWN };
  if (n === undefined) return out;
  if (!isMap(n)) {
    const all = v.verdict(n, 'defaults.unknown_command', undefined, ['allow', 'approve', 'deny']);
    for (const k of UNKNOWN_KEYS) out[k] = all;
    return out;
  }
  const m = n as YAMLMap;
  v.keys(m, 'defaults.unknown_command', [...UNKNOWN_KEYS]);
  for (const k of UNKNOWN_KEYS) {
    const x = v.get(m, k);
    if (x !== undefined)
      out[k] = v.verdict(x, `defaults.unknown_command.${k}`, undefined, ['allow', 'approve', 'deny']);
  }
  return out;
}

export function loadPolicyFile(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new GatehouseError('not_found', `policy file ${file} cannot be read`, { hint: 'check the path', cause: e });
  }
  return parsePolicy(text, file);
}
