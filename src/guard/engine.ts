import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatehouseError } from '../core/index.js';
import { analyze, rawScan, type AnalyzeOptions } from './analyze.js';
import type { View } from './argv.js';
import { clip } from './extract.js';
import { globToRegExp } from './glob.js';
import { checkHttpWith } from './http.js';
import { loadBashParser, type Parser } from './parser.js';
import { classifyRead, classifyWrite, normalizePath } from './paths.js';
import { loadPolicyFile, parsePolicy, type Policy } from './policy.js';
import { finding, toDecision, worst, type Finding, type GuardContext, type GuardDecision, type HttpRequestLike } from './types.js';

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
  checkCommand(command: string, ctx?: GuardContext): GuardDecision;
  checkHttp(req: HttpRequestLike, ctx?: GuardContext): GuardDecision;
  checkPath(op: 'read' | 'write', path: string, ctx?: GuardContext): GuardDecision;
  policyNames(): string[];
}

/** Throws the CLI's clear error for oversized input (the engine itself never throws on it). */
export function assertCommandSize(command: string): void {
  const n = Buffer.byteLength(command, 'utf8');
  if (n > MAX_COMMAND_BYTES) {
    throw new GatehouseError('input_too_large', `command is ${n} bytes; the guard accepts at most ${MAX_COMMAND_BYTES}`, { hint: 'split the work into smaller commands or run a script file' });
  }
}

/** Fallback when the bundled policies/ folder is not found (e.g. an unusual install layout). */
const FALLBACK_DEFAULT = `version: 1\nname: default\ndefaults: { unknown_command: allow }\npaths: { write_allowed: ['./**', '/tmp/**', '/var/tmp/**', '~/**'] }\n`;

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
  return readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f));
}

/**
 * Bounded LRU of one policy's command findings, keyed by the exact command string. A policy is
 * immutable once loaded and a finding is a pure function of (policy, command bytes): the parser,
 * rules and limits are fixed per engine, and nothing reads the clock, the environment or the
 * filesystem. So a hit returns exactly what analysis would. Agents repeat commands (`git status`,
 * `ls`, test runs) many times in a session; a hit costs a Map lookup instead of a parse.
 * Size bound: DECISION_CACHE_ENTRIES commands of at most DECISION_CACHE_MAX_COMMAND units each.
 */
export class FindingCache {
  private readonly map = new Map<string, Finding>();
  constructor(private readonly max: number) {}
  get(command: string): Finding | undefined {
    const f = this.map.get(command);
    if (f !== undefined) {
      // Refresh recency: Map iteration order is insertion order, so the first key is the oldest.
      this.map.delete(command);
      this.map.set(command, f);
    }
    return f;
  }
  set(command: string, f: Finding): void {
    this.map.set(command, f);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  get size(): number {
    return this.map.size;
  }
}

class Engine implements GuardEngine {
  /** Set by commandWith when analysis threw (read right after the call; everything here is synchronous). */
  private analysisFailed = false;
  /** Per policy object (identity, not name), so a finding is only ever reused for the policy that produced it. */
  private readonly caches = new WeakMap<Policy, FindingCache>();

  constructor(private readonly parser: Parser, private readonly policies: Map<string, Policy>, private readonly cacheEntries: number) {}

  policyNames(): string[] {
    return [...this.policies.keys()].sort();
  }

  /** Policies that apply: an explicit name, else every policy bound to the token or target, else `default`. */
  private select(ctx: GuardContext | undefined): Policy[] | GuardDecision {
    if (ctx?.policy) {
      const p = this.policies.get(ctx.policy);
      return p ? [p] : { decision: 'deny', rule: 'policy.unknown', reason: `no policy named ${ctx.policy} is loaded`, matched: ctx.policy };
    }
    const bound: Policy[] = [];
    // Without a token or target nothing can be bound: skip the scan (the common case in a CLI check).
    if (ctx?.token !== undefined || ctx?.target !== undefined) for (const p of this.policies.values()) {
      const t = ctx?.token !== undefined && p.appliesTo.tokens.some((g) => globToRegExp(g).test(ctx.token ?? ''));
      const g = ctx?.target !== undefined && p.appliesTo.targets.some((x) => globToRegExp(x).test(ctx.target ?? ''));
      if (t || g) bound.push(p);
    }
    if (bound.length) return bound;
    const d = this.policies.get('default');
    return d ? [d] : { decision: 'deny', rule: 'policy.unknown', reason: 'no default policy is loaded', matched: 'default' };
  }

  checkCommand(command: string, ctx?: GuardContext): GuardDecision {
    const sel = this.select(ctx);
    if (!Array.isArray(sel)) return sel;
    let best: Finding | undefined;
    for (const p of sel) best = worstOf(best, this.cachedCommandWith(p, command));
    // toDecision copies: callers never hold (or mutate) a cached finding.
    return toDecision(best ?? finding('deny', 'internal', 'no decision', clip(command)));
  }

  private cachedCommandWith(policy: Policy, command: string): Finding {
    if (this.cacheEntries <= 0 || typeof command !== 'string' || command.length > DECISION_CACHE_MAX_COMMAND) return this.commandWith(policy, command);
    let cache = this.caches.get(policy);
    if (!cache) this.caches.set(policy, (cache = new FindingCache(this.cacheEntries)));
    const hit = cache.get(command);
    if (hit) return hit;
    this.analysisFailed = false;
    const f = this.commandWith(policy, command);
    // A guard failure (an exception inside analysis, e.g. a stack overflow) may be transient:
    // its fail-closed answer is returned but not kept, so the next call analyses again.
    if (!this.analysisFailed) cache.set(command, f);
    return f;
  }

  private commandWith(policy: Policy, command: string): Finding {
    if (typeof command !== 'string') return finding('deny', 'invalid-input', 'command must be a string', '');
    // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings skip the byte count.
    if (command.length * 3 > MAX_COMMAND_BYTES && Buffer.byteLength(command, 'utf8') > MAX_COMMAND_BYTES) {
      // Server path: never throw; scan the text and fail closed.
      const d = worst(rawScan(command.slice(0, 1 << 20)));
      return d ?? finding(policy.parseError, 'limits.input-too-large', `command is larger than ${MAX_COMMAND_BYTES} bytes and was not parsed`, clip(command));
    }
    if (command.trim() === '') return finding('allow', 'empty', 'empty command', '');
    let findings: Finding[];
    try {
      findings = analyze(command, 0, this.options(policy));
    } catch {
      this.analysisFailed = true;
      findings = [finding('approve', 'internal.error', 'the guard failed while checking this command', clip(command), { floor: true }), ...rawScan(command)];
    }
    if (policy.parseError === 'deny') findings = findings.map((f) => (f.floor && f.rule.startsWith('parse.') ? { ...f, decision: 'deny' } : f));
    const w = worst(findings);
    if (!w || w.decision === 'allow') {
      const allow = findings.find((f) => f.decision === 'allow');
      return allow ?? finding('allow', 'allow', 'no rule requires approval', clip(command));
    }
    return w;
  }

  private optsCache = new Map<string, AnalyzeOptions>();

  private options(policy: Policy): AnalyzeOptions {
    const hit = this.optsCache.get(policy.name);
    if (hit) return hit;
    const allow = new Map<string, (string | undefined)[]>();
    for (const a of policy.allowlist) allow.set(a.prog, [...(allow.get(a.prog) ?? []), a.sub]);
    const ruleProgs = new Set(policy.commandRules.flatMap((r) => r.commands));
    const trustedDir = /^\/(usr\/(local\/)?)?s?bin\/[^/]+$|^\/opt\/homebrew\/bin\/[^/]+$/;
    const o: AnalyzeOptions = {
      parser: this.parser,
      writeAllowed: policy.writeAllowed,
      maxReparseDepth: MAX_REPARSE_DEPTH,
      maxTreeDepth: MAX_TREE_DEPTH,
      maxNodes: MAX_NODES,
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
      baseline: (v: View, known: boolean, info) => {
        if (policy.unknownCommand === 'allow') return undefined;
        // Allowlist-first: a program runs without approval only if listed (and, for an explicit
        // path, only from a system bin directory: `./cat` must not inherit `cat`'s trust).
        const subs = allow.get(v.prog);
        const pathOk = !v.path.includes('/') || trustedDir.test(v.path);
        if (info.functions.has(v.prog) && !v.path.includes('/')) return undefined;
        if (subs && pathOk) {
          const first = v.args.find((a) => !a.text.startsWith('-'))?.text;
          if (subs.includes(undefined) || subs.includes(first)) {
            const veto = readOnlyVeto(v);
            if (!veto) return finding('allow', `policy:${policy.name}:allowlist`, `${v.prog} is on the ${policy.name} allowlist`, v.text);
            return finding(policy.unknownCommand, `policy:${policy.name}:not-read-only`, veto, v.text);
          }
        }
        void known;
        return finding(policy.unknownCommand, `policy:${policy.name}:unlisted`, `${v.prog}${subs ? ' ' + (v.args[0]?.text ?? '') : ''} is not on the ${policy.name} allowlist`, v.text);
      },
    };
    this.optsCache.set(policy.name, o);
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

function worstOf(a: Finding | undefined, b: Finding): Finding {
  return worst(a ? [a, b] : [b]) ?? b;
}

function pathWith(policy: Policy, op: 'read' | 'write', path: string): Finding {
  if (typeof path !== 'string' || path === '' || /[\x00-\x1f]/.test(path)) return finding('deny', 'path.invalid', 'the path is empty or contains control characters', JSON.stringify(path));
  const info = { text: path, glob: false, dynamic: false, prefix: path };
  const builtin = op === 'read' ? classifyRead(info, path) : classifyWrite(info, path, policy.writeAllowed);
  if (builtin?.final) return builtin;
  const n = normalizePath(path);
  for (const r of policy.pathRules) {
    if (r.op !== 'any' && r.op !== op) continue;
    if (r.paths.some((g) => globToRegExp(normalizePath(g)).test(n))) return finding(r.decision, `user:${policy.name}:${r.id}`, r.message, path);
  }
  return builtin ?? finding('allow', 'path.allow', `${op} of ${n} is allowed`, path);
}

/** Commands a read-only allowlist must still refuse without approval (flag vetoes, Codex-style). */
function readOnlyVeto(v: View): string | undefined {
  const a = v.args.map((x) => x.text);
  const p = v.prog;
  if (p === 'sed' && a.some((x) => /^-[a-zA-Z]*i|^--in-place/.test(x))) return 'sed -i edits files';
  if (p === 'sort' && a.some((x) => /^-o|^--output/.test(x))) return 'sort -o writes a file';
  if (p === 'find' && a.some((x) => /^-(exec|execdir|ok|okdir|delete|fprint|fprint0|fprintf|fls)$/.test(x))) return 'find with actions is not read-only';
  if (p === 'rg' && a.some((x) => /^--pre|^-z$|^--search-zip/.test(x))) return 'rg --pre runs a program';
  if (p === 'base64' && a.some((x) => /^-o|^--output/.test(x))) return 'base64 -o writes a file';
  if ((p === 'tree' || p === 'du') && a.some((x) => x === '-o')) return `${p} -o writes a file`;
  if (p === 'git' && a.some((x) => /^(-c|--output|--ext-diff|--exec)/.test(x))) return 'git option can run commands or write files';
  if (p === 'date' && a.some((x) => x === '-s' || x.startsWith('--set'))) return 'date -s sets the clock';
  if (p === 'hostname' && a.some((x) => !x.startsWith('-'))) return 'hostname NAME renames the host';
  if (v.sc.redirects.some((r) => r.op.includes('>') && r.target && !/^(\d+|-|\/dev\/null|\/dev\/stdout|\/dev\/stderr)$/.test(r.target.text))) return 'writes output to a file';
  return undefined;
}

/**
 * `decisionCache`: entries per policy in the exact-match decision cache (default
 * DECISION_CACHE_ENTRIES); 0 turns it off (the bench measures uncached decisions that way).
 */
export async function loadGuard(options: { policyFiles?: string[]; policyDir?: string; decisionCache?: number } = {}): Promise<GuardEngine> {
  const parser = await loadBashParser();
  const policies = new Map<string, Policy>();
  const dir = options.policyDir ?? bundledPolicyDir();
  if (dir) for (const f of policyFilesIn(dir)) { const p = loadPolicyFile(f); policies.set(p.name, p); }
  if (!policies.has('default')) policies.set('default', parsePolicy(FALLBACK_DEFAULT, '(built-in default)'));
  for (const f of options.policyFiles ?? []) {
    const p = loadPolicyFile(f);
    policies.set(p.name, p);
  }
  return new Engine(parser, policies, options.decisionCache ?? DECISION_CACHE_ENTRIES);
}
