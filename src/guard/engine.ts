import { existsSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoundedLru, execEnvEntry, EXEC_ENV_VERDICT, GatehouseError } from '../core/index.js';
import { analyze, rawScan, type AnalyzeOptions } from './analyze.js';
import type { View } from './argv.js';
import { clip } from './extract.js';
import { globToRegExp } from './glob.js';
import { checkHttpWith } from './http.js';
import { loadBashParser, type Parser } from './parser.js';
import { classifyRead, classifyWrite, normalizePath } from './paths.js';
import { judgeKnown } from './known-programs.js';
import { loadPolicyFile, parsePolicy, type Policy, type UnknownContext } from './policy.js';
import {
  finding,
  GUARD_RUN_CONTEXTS,
  hardDeny,
  toDecision,
  worst,
  type CommandInput,
  type Finding,
  type GuardContext,
  type GuardDecision,
  type HttpRequestLike,
} from './types.js';

/** Largest command accepted (UTF-8 bytes). Above it: CLI -> GatehouseError input_too_large; engine -> deny/approve. */
export const MAX_COMMAND_BYTES = 64 * 1024;
/** Re-parse depth for `bash -c '…'` inside `sudo sh -c "…"` and so on. */
export const MAX_REPARSE_DEPTH = 4;
export const MAX_TREE_DEPTH = 200;
export const MAX_NODES = 60_000;
/** Decision cache bounds: entries per policy, and the longest command (UTF-16 units) cached. */
export const DECISION_CACHE_ENTRIES = 1024;
export const DECISION_CACHE_MAX_COMMAND = 2048;

export interface GuardEngine {
  /**
   * Judges a command line with what it receives besides its text: `input.stdin` (a script to a
   * shell, code to an interpreter, runs to xargs…), `input.env` (hijacking names, and values the
   * line may run as code), `input.session` (a line typed at an interactive session's prompt).
   */
  checkCommand(command: string, ctx?: GuardContext, input?: CommandInput): GuardDecision;
  checkHttp(req: HttpRequestLike, ctx?: GuardContext): GuardDecision;
  checkPath(op: 'read' | 'write', path: string, ctx?: GuardContext): GuardDecision;
  policyNames(): string[];
}

/** Throws the CLI's clear error for oversized input (the engine itself never throws on it). */
export function assertCommandSize(command: string): void {
  const n = Buffer.byteLength(command, 'utf8');
  if (n > MAX_COMMAND_BYTES) {
    throw new GatehouseError(
      'input_too_large',
      `command is ${n} bytes; the guard accepts at most ${MAX_COMMAND_BYTES}`,
      { hint: 'split the work into smaller commands or run a script file' },
    );
  }
}

/** Fallback when the bundled policies/ folder is not found (e.g. an unusual install layout). */
const FALLBACK_DEFAULT = `version: 1\nname: default\npaths: { write_allowed: ['./**', '/tmp/**', '/var/tmp/**', '~/**'] }\n`;

function bundledPolicyDir(): string | undefined {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(d, 'policies');
    if (existsSync(join(p, 'default.yaml'))) return p;
    d = dirname(d);
  }
  return undefined;
}

function policyFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Bounded LRU of one policy's command findings, keyed by the exact command string. A policy is
 * immutable once loaded and a finding is a pure function of (policy, command bytes): the parser,
 * rules and limits are fixed per engine, and nothing reads the clock, the environment or the
 * filesystem. So a hit returns exactly what analysis would. Agents repeat commands (`git status`,
 * `ls`, test runs) many times in a session; a hit costs a Map lookup instead of a parse.
 * Size bound: DECISION_CACHE_ENTRIES commands of at most DECISION_CACHE_MAX_COMMAND units each.
 */
export class FindingCache extends BoundedLru<string, Finding> {}

/** A shell variable name (the only names `export` and the sandbox accept). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What a decision receives besides the command, checked and normalised once per call. */
interface Run {
  stdin?: StdinText;
  env?: ReadonlyMap<string, string>;
  session: boolean;
  /** Findings on the input itself (hijacking env names, malformed input). */
  findings: Finding[];
  /** Which decision cache may hold the answer: none when stdin or env take part. */
  cache: 'plain' | 'session' | false;
}
type StdinText = { text: string; dynamic: boolean; scan?: string };

const PLAIN_RUN: Run = { session: false, findings: [], cache: 'plain' };

/**
 * The caller's input, checked: env names must be shell identifiers and values strings without NUL;
 * a name on the exec-env list (src/core/exec-env.ts) is `deny` (loader and shell-startup classes)
 * or `approve` (the rest); stdin larger than a command may be is judged as unknown text (and
 * scanned for deny signatures where it runs as code).
 */
function runOf(input: CommandInput | undefined): Run {
  if (input === undefined || input === null) return PLAIN_RUN;
  const findings: Finding[] = [];
  const run: Run = { session: input.session === true, findings, cache: input.session === true ? 'session' : 'plain' };
  if (typeof input !== 'object') {
    findings.push(finding('deny', 'invalid-input', 'the command input must be an object', ''));
    return run;
  }
  if (input.stdin !== undefined) {
    if (typeof input.stdin !== 'string') findings.push(finding('deny', 'invalid-input', 'stdin must be a string', ''));
    else if (input.stdin !== '') {
      run.cache = false;
      const big =
        input.stdin.length * 3 > MAX_COMMAND_BYTES && Buffer.byteLength(input.stdin, 'utf8') > MAX_COMMAND_BYTES;
      run.stdin = big
        ? { text: '', dynamic: true, scan: input.stdin.slice(0, 1 << 20) }
        : { text: input.stdin, dynamic: false };
    }
  }
  if (input.env !== undefined) {
    if (input.env === null || typeof input.env !== 'object')
      findings.push(finding('deny', 'invalid-input', 'env must be an object of strings', ''));
    else {
      const env = new Map<string, string>();
      for (const [k, v] of Object.entries(input.env)) {
        if (!ENV_NAME.test(k)) {
          findings.push(
            finding(
              'deny',
              'exec.env-invalid',
              `environment name ${JSON.stringify(clip(k, 64))} is not a shell variable name`,
              clip(k, 64),
            ),
          );
          continue;
        }
        if (typeof v !== 'string' || v.includes('\0')) {
          findings.push(finding('deny', 'exec.env-invalid', `the value of ${k} is not a string without NUL bytes`, k));
          continue;
        }
        env.set(k, v);
        const e = execEnvEntry(k);
        if (e) {
          const reason = `env sets ${k}: ${e.reason}`;
          // INVARIANT: a loader or shell-startup variable passed as env is denied, whatever a policy says.
          findings.push(
            EXEC_ENV_VERDICT[e.class] === 'deny'
              ? hardDeny('exec.env-hijack', reason, k)
              : finding('approve', 'exec.env-hijack', reason, k),
          );
        }
      }
      if (env.size) {
        run.env = env;
        run.cache = false;
      }
    }
  }
  return run;
}

class Engine implements GuardEngine {
  /** Set by commandWith when analysis threw (read right after the call; everything here is synchronous). */
  private analysisFailed = false;
  /**
   * Per policy object (identity, not name), so a finding is only ever reused for the policy that
   * produced it; lines typed into a session are judged by more rules, so they have their own.
   */
  private readonly caches = new WeakMap<Policy, Map<string, FindingCache>>();

  constructor(
    private readonly parser: Parser,
    private readonly policies: Map<string, Policy>,
    private readonly cacheEntries: number,
  ) {}

  policyNames(): string[] {
    return [...this.policies.keys()].sort();
  }

  /** Policies that apply: an explicit name, else every policy bound to the token or target, else `default`. */
  private select(ctx: GuardContext | undefined): Policy[] | GuardDecision {
    if (ctx?.policy) {
      const p = this.policies.get(ctx.policy);
      return p
        ? [p]
        : {
            decision: 'deny',
            rule: 'policy.unknown',
            reason: `no policy named ${ctx.policy} is loaded`,
            matched: ctx.policy,
          };
    }
    const bound: Policy[] = [];
    // Without a token or target nothing can be bound: skip the scan (the common case in a CLI check).
    if (ctx?.token !== undefined || ctx?.target !== undefined)
      for (const p of this.policies.values()) {
        const t = ctx?.token !== undefined && p.appliesTo.tokens.some((g) => globToRegExp(g).test(ctx.token ?? ''));
        const g = ctx?.target !== undefined && p.appliesTo.targets.some((x) => globToRegExp(x).test(ctx.target ?? ''));
        if (t || g) bound.push(p);
      }
    if (bound.length) return bound;
    const d = this.policies.get('default');
    return d
      ? [d]
      : { decision: 'deny', rule: 'policy.unknown', reason: 'no default policy is loaded', matched: 'default' };
  }

  checkCommand(command: string, ctx?: GuardContext, input?: CommandInput): GuardDecision {
    const sel = this.select(ctx);
    if (!Array.isArray(sel)) return sel;
    const run = runOf(input);
    const context = contextOf(ctx);
    const soft = context === 'sandbox' && ctx?.reversibleDeletes === true;
    let best: Finding | undefined;
    for (const p of sel) best = worstOf(best, this.cachedCommandWith(p, command, run, context, soft));
    // toDecision copies: callers never hold (or mutate) a cached finding.
    return toDecision(best ?? finding('deny', 'internal', 'no decision', clip(command)));
  }

  private cachedCommandWith(policy: Policy, command: string, run: Run, context: UnknownContext, soft = false): Finding {
    // INVARIANT: a cached finding answers only the exact (policy, context, command, input) it was
    // made for: stdin and env never go through the cache, session lines and each context have a
    // cache of their own (the unknown verdict depends on the context).
    if (
      run.cache === false ||
      this.cacheEntries <= 0 ||
      typeof command !== 'string' ||
      command.length > DECISION_CACHE_MAX_COMMAND
    )
      return this.commandWith(policy, command, run, context, soft);
    let byKey = this.caches.get(policy);
    if (!byKey) this.caches.set(policy, (byKey = new Map()));
    // Soft-delete sandboxes judge rm differently: a cache of their own.
    const key = `${run.cache === 'session' ? `session:${context}` : context}${soft ? ':soft-delete' : ''}`;
    let cache = byKey.get(key);
    if (!cache) byKey.set(key, (cache = new FindingCache(this.cacheEntries)));
    const hit = cache.get(command);
    if (hit) return hit;
    this.analysisFailed = false;
    const f = this.commandWith(policy, command, run, context, soft);
    // A guard failure (an exception inside analysis, e.g. a stack overflow) may be transient:
    // its fail-closed answer is returned but not kept, so the next call analyses again.
    if (!this.analysisFailed) cache.set(command, f);
    return f;
  }

  private commandWith(policy: Policy, command: string, run: Run, context: UnknownContext, soft = false): Finding {
    if (typeof command !== 'string') return finding('deny', 'invalid-input', 'command must be a string', '');
    const f = this.commandOnly(policy, command, run, context, soft);
    if (!run.findings.length) return f;
    const w = worst([...run.findings, f]) ?? f;
    return w.decision === 'allow' ? f : w;
  }

  private commandOnly(policy: Policy, command: string, run: Run, context: UnknownContext, soft = false): Finding {
    // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings skip the byte count.
    if (command.length * 3 > MAX_COMMAND_BYTES && Buffer.byteLength(command, 'utf8') > MAX_COMMAND_BYTES) {
      // Server path: never throw; scan the text and fail closed.
      const d = worst(rawScan(command.slice(0, 1 << 20)));
      return (
        d ??
        finding(
          policy.parseError,
          'limits.input-too-large',
          `command is larger than ${MAX_COMMAND_BYTES} bytes and was not parsed`,
          clip(command),
        )
      );
    }
    if (command.trim() === '') return finding('allow', 'empty', 'empty command', '');
    let findings: Finding[];
    const base = this.options(policy, context, soft);
    const o =
      run === PLAIN_RUN || (!run.env && !run.session)
        ? base
        : { ...base, env: run.env, session: run.session, terminal: run.session };
    try {
      findings = analyze(command, 0, o, run.stdin);
    } catch {
      this.analysisFailed = true;
      findings = [
        finding('approve', 'internal.error', 'the guard failed while checking this command', clip(command), {
          floor: true,
        }),
        ...rawScan(command),
      ];
    }
    if (policy.parseError === 'deny')
      findings = findings.map((f) => (f.floor && f.rule.startsWith('parse.') ? { ...f, decision: 'deny' } : f));
    let w = worst(findings);
    // The unknown verdict is the fallback reason: a specific finding with the same verdict says more.
    if (w && w.rule.endsWith(':unknown'))
      w = findings.find((f) => f.decision === w!.decision && !f.rule.endsWith(':unknown')) ?? w;
    if (!w || w.decision === 'allow') {
      const allow = findings.find((f) => f.decision === 'allow');
      return (
        allow ??
        finding(
          'allow',
          'allow',
          'every program in it is known to be read-only or harmless, or allowed by the policy',
          clip(command),
        )
      );
    }
    return w;
  }

  private optsCache = new Map<string, AnalyzeOptions>();

  private options(policy: Policy, context: UnknownContext, soft = false): AnalyzeOptions {
    const key = `${policy.name}\0${context}\0${soft}`;
    const hit = this.optsCache.get(key);
    if (hit) return hit;
    const allow = new Map<string, (string | undefined)[]>();
    for (const a of policy.allowlist) allow.set(a.prog, [...(allow.get(a.prog) ?? []), a.sub]);
    const ruleProgs = new Set(policy.commandRules.flatMap((r) => r.commands));
    const trustedDir = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$|^\/opt\/homebrew\/bin\/[^/]+$/;
    const verdict = policy.unknownCommand[context];
    const where = context === 'default' ? 'where no context is named' : `in the ${context} context`;
    // INVARIANT: allow is a judgment; a command nothing vouches for gets the policy's verdict for the
    // context (an allow here is still reported, so a wrapper knows its command was not vouched for).
    const unknown = (v: View, why: string): Finding =>
      finding(
        verdict,
        `policy:${policy.name}:unknown`,
        `${why}; the ${policy.name} policy's unknown_command ${where} is ${verdict}`,
        v.text,
      );
    const o: AnalyzeOptions = {
      parser: this.parser,
      writeAllowed: policy.writeAllowed,
      ruleEnv: {
        writeAllowed: policy.writeAllowed,
        scriptPathsAllowed: policy.scriptPathsAllowed,
        unreadableScript: { verdict, policy: policy.name },
        ...(soft ? { reversibleDeletes: true } : {}),
        ...(policy.credentialNames ? { credentialNames: policy.credentialNames } : {}),
        // curl/wget/httpie/xh requests meet the policy's HTTP rules, as api_request does.
        http: (req) => checkHttpWith(policy, req),
      },
      maxReparseDepth: MAX_REPARSE_DEPTH,
      maxTreeDepth: MAX_TREE_DEPTH,
      maxNodes: MAX_NODES,
      sudoApproval: policy.sudoRequiresApproval,
      unknown,
      userRule: (v: View) => {
        if (!ruleProgs.has(v.prog) && !ruleProgs.has('*')) return undefined;
        const joined = v.args.map((a) => a.text).join(' ');
        for (const r of policy.commandRules) {
          if (!r.commands.includes(v.prog) && !r.commands.includes('*')) continue;
          if (r.args.length && !r.args.some((re) => re.test(joined))) continue;
          if (r.notArgs.some((re) => re.test(joined))) continue;
          const f = finding(r.decision, `user:${policy.name}:${r.id}`, r.message, v.text);
          if (r.redirect !== undefined) f.redirect = r.redirect;
          return f;
        }
        return undefined;
      },
      judge: (v: View, info) => {
        // A function the line defines: its body's commands are judged where they are written.
        if (info.functions.has(v.prog) && !v.path.includes('/')) return undefined;
        // The policy's allowlist (a program, or a program and its subcommand) vouches like the table,
        // for a program found by name or in a system bin directory (`./cat` is not `cat`).
        const subs = allow.get(v.prog);
        if (subs && (!v.path.includes('/') || trustedDir.test(v.path))) {
          const first = v.args.find((a) => !a.text.startsWith('-'))?.text;
          if (subs.includes(undefined) || subs.includes(first)) {
            const veto = readOnlyVeto(v);
            if (!veto) return undefined;
            return unknown(v, veto);
          }
        }
        const j = judgeKnown(v);
        if (j.harmless) return undefined;
        // INVARIANT: what a decision depends on and is only known at run time is never allowed.
        if (j.dynamic) return finding('approve', 'exec.dynamic-argument', j.why, v.text, { floor: true });
        return unknown(v, j.why);
      },
    };
    this.optsCache.set(key, o);
    return o;
  }

  checkHttp(req: HttpRequestLike, ctx?: GuardContext): GuardDecision {
    const sel = this.select(ctx);
    if (!Array.isArray(sel)) return sel;
    let best: Finding | undefined;
    for (const p of sel) best = worstOf(best, checkHttpWith(p, req));
    return toDecision(best ?? finding('deny', 'internal', 'no decision', req.path));
  }

  checkPath(op: 'read' | 'write', path: string, ctx?: GuardContext): GuardDecision {
    const sel = this.select(ctx);
    if (!Array.isArray(sel)) return sel;
    let best: Finding | undefined;
    for (const p of sel) best = worstOf(best, pathWith(p, op, path));
    return toDecision(best ?? finding('deny', 'internal', 'no decision', path));
  }
}

/** The context key of a caller's context; anything unrecognised is `default` (the production answer). */
function contextOf(ctx: GuardContext | undefined): UnknownContext {
  const c = ctx?.context;
  return c !== undefined && (GUARD_RUN_CONTEXTS as readonly string[]).includes(c) ? c : 'default';
}

function worstOf(a: Finding | undefined, b: Finding): Finding {
  return worst(a ? [a, b] : [b]) ?? b;
}

function pathWith(policy: Policy, op: 'read' | 'write', path: string): Finding {
  if (typeof path !== 'string' || path === '' || /[\x00-\x1f]/.test(path))
    return finding('deny', 'path.invalid', 'the path is empty or contains control characters', JSON.stringify(path));
  const info = { text: path, glob: false, dynamic: false, prefix: path };
  const builtin = op === 'read' ? classifyRead(info, path) : classifyWrite(info, path, policy.writeAllowed);
  if (builtin?.final) return builtin;
  const n = normalizePath(path);
  for (const r of policy.pathRules) {
    if (r.op !== 'any' && r.op !== op) continue;
    if (r.paths.some((g) => globToRegExp(normalizePath(g)).test(n)))
      return finding(r.decision, `user:${policy.name}:${r.id}`, r.message, path);
  }
  return builtin ?? finding('allow', 'path.allow', `${op} of ${n} is allowed`, path);
}

/** Commands a read-only allowlist must still refuse without approval (flag vetoes, Codex-style). */
function readOnlyVeto(v: View): string | undefined {
  const a = v.args.map((x) => x.text);
  const p = v.prog;
  if (p === 'sed' && a.some((x) => /^-[a-zA-Z]*i|^--in-place/.test(x))) return 'sed -i edits files';
  if (p === 'sort' && a.some((x) => /^-o|^--output/.test(x))) return 'sort -o writes a file';
  if (p === 'find' && a.some((x) => /^-(exec|execdir|ok|okdir|delete|fprint|fprint0|fprintf|fls)$/.test(x)))
    return 'find with actions is not read-only';
  if (p === 'rg' && a.some((x) => /^--pre|^-z$|^--search-zip/.test(x))) return 'rg --pre runs a program';
  if (p === 'base64' && a.some((x) => /^-o|^--output/.test(x))) return 'base64 -o writes a file';
  if ((p === 'tree' || p === 'du') && a.some((x) => x === '-o')) return `${p} -o writes a file`;
  if (p === 'git' && a.some((x) => /^(-c|--output|--ext-diff|--exec)/.test(x)))
    return 'git option can run commands or write files';
  if (p === 'date' && a.some((x) => x === '-s' || x.startsWith('--set'))) return 'date -s sets the clock';
  if (p === 'hostname' && a.some((x) => !x.startsWith('-'))) return 'hostname NAME renames the host';
  if (
    v.sc.redirects.some(
      (r) => r.op.includes('>') && r.target && !/^(\d+|-|\/dev\/null|\/dev\/stdout|\/dev\/stderr)$/.test(r.target.text),
    )
  )
    return 'writes output to a file';
  return undefined;
}

/**
 * `decisionCache`: entries per policy in the exact-match decision cache (default
 * DECISION_CACHE_ENTRIES); 0 turns it off (the bench measures uncached decisions that way).
 *
 * `policyFiles`: user policy files. A relative path resolves against `baseDir` (the directory of
 * the configuration file that lists it), never against the process's working directory, which an
 * agent may be able to write to; without `baseDir` (a path typed on the command line) against the
 * working directory. INVARIANT: a user policy file never takes the name of a built-in policy
 * (`default`, `strict`, …) or of another user file: that is refused with `policy_invalid` naming
 * both files, so no file can silently replace the policy every unbound token gets. To change what
 * unbound tokens get, bind a policy with `applies_to` instead.
 */
export async function loadGuard(
  options: { policyFiles?: string[]; policyDir?: string; decisionCache?: number; baseDir?: string } = {},
): Promise<GuardEngine> {
  const parser = await loadBashParser();
  const policies = new Map<string, Policy>();
  const dir = options.policyDir ?? bundledPolicyDir();
  if (dir)
    for (const f of policyFilesIn(dir)) {
      const p = loadPolicyFile(f);
      policies.set(p.name, p);
    }
  if (!policies.has('default')) policies.set('default', parsePolicy(FALLBACK_DEFAULT, '(built-in default)'));
  const builtins = new Set(policies.keys());
  for (const f of options.policyFiles ?? []) {
    const path = isAbsolute(f) ? f : resolve(options.baseDir ?? process.cwd(), f);
    const p = loadPolicyFile(path);
    const taken = policies.get(p.name);
    if (taken) {
      const builtin = builtins.has(p.name);
      throw new GatehouseError(
        'policy_invalid',
        `${path}: policy name "${p.name}" is already taken by ${builtin ? 'the built-in policy' : 'the policy file'} ${taken.file}`,
        {
          hint: builtin
            ? 'give the policy another name and bind it with applies_to; a policy file may not replace a built-in policy'
            : 'give each policy file its own name',
          details: { file: path, name: p.name, other: taken.file },
        },
      );
    }
    policies.set(p.name, p);
  }
  return new Engine(parser, policies, options.decisionCache ?? DECISION_CACHE_ENTRIES);
}
