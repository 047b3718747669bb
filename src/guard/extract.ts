import { truncateText } from '../core/index.js';
import type { Node } from './parser.js';
import { findUnfaithful } from './faithful.js';
import { planLine, type LinePlan } from './resolve.js';
import { finding, type Finding } from './types.js';
import {
  endsWithBareDollar,
  endsWithPid,
  evalWord,
  joinWords,
  literalWord,
  visitSubst,
  type KnownVars,
  type Word,
  type WordHooks,
} from './words.js';

/**
 * Walks a tree-sitter-bash tree and extracts every simple command that would run, with its
 * redirects, stdin text (heredoc/here-string), pipeline position, and which command consumes
 * its output when it sits inside a substitution. The walk accepts an explicit list of node
 * types; an ERROR/MISSING node, an unknown node or a stray token becomes a fail-closed finding
 * (invariant: what the guard cannot parse is never allowed).
 */
export interface Redir {
  op: string;
  fd: string | null;
  target: Word | null;
}

export interface StdinText {
  text: string;
  dynamic: boolean;
  /** Text too large to parse as a script: still scanned for deny signatures when run as code. */
  scan?: string;
}

export interface SimpleCommand {
  argv: Word[];
  /** `NAME=value` (or `NAME+=value`, `append`) words before the program name. */
  assigns: { name: string; value: Word; append?: boolean }[];
  redirects: Redir[];
  text: string;
  /** Enclosing pipelines (innermost last) and this command's stage in each. */
  pipes: { id: number; stage: number }[];
  /** Index of the command whose argument/file this command's output becomes. */
  feeds?: number;
  feedKind?: 'arg' | 'file-in' | 'file-out' | 'assign';
  /** Variable assigned from this command's output (`X=$(cmd)`). */
  assignTo?: string;
  stdin?: StdinText;
  /** Names of functions defined in the script that this command is part of the body of. */
  inFunction?: string;
  /** Pseudo commands from declarations (`export X=…`) have no program to run. */
  declaration?: boolean;
  /** Runs in the background (`cmd &`, inside a backgrounded list or group). */
  background?: boolean;
  /** Part of a top-level assignment the guard resolves for later words (src/guard/resolve.ts planLine). */
  lineSite?: boolean;
  /**
   * The command reads the terminal of an interactive session (set by the analyzer for commands
   * that read the line's own standard input when the line is typed into a session).
   */
  terminal?: boolean;
}

export interface Script {
  commands: SimpleCommand[];
  findings: Finding[];
  functions: Map<string, { text: string; recursive: boolean; forks: boolean }>;
  /** Variables the line's own assignments resolved somewhere (empty when none). */
  lineNames: ReadonlySet<string>;
}

export interface Limits {
  maxDepth: number;
  maxNodes: number;
}

const STATEMENT_CONTAINERS = new Set([
  'program',
  'list',
  'subshell',
  'compound_statement',
  'do_group',
  'else_clause',
  'elif_clause',
  'if_statement',
  'while_statement',
  'for_statement',
  'case_statement',
  'case_item',
]);

/** Anonymous tokens the walk accepts; anything else (e.g. a stray `;;`) fails closed. */
const OK_TOKENS = new Set([
  ';',
  '&',
  '&&',
  '||',
  '|',
  '|&',
  '(',
  ')',
  '{',
  '}',
  '((',
  '))',
  '[[',
  ']]',
  '[',
  ']',
  '!',
  '=',
  '+=',
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'for',
  'in',
  'do',
  'done',
  'while',
  'until',
  'case',
  'esac',
  'function',
  'select',
  ';;',
  ';&',
  ';;&',
  '"',
  '$',
  '`',
  '$(',
  '${',
  '}',
  '>',
  '>>',
  '<',
  '&>',
  '&>>',
  '>&',
  '<&',
  '>|',
  '<<',
  '<<-',
  '<<<',
  '>&-',
  '<&-',
  'export',
  'declare',
  'local',
  'readonly',
  'typeset',
  'unset',
  'unsetenv',
]);

class Walker {
  readonly commands: SimpleCommand[] = [];
  /** Where each command starts in the source (parallel to `commands`). */
  private readonly starts: number[] = [];
  readonly findings: Finding[] = [];
  readonly functions = new Map<string, { text: string; recursive: boolean; forks: boolean }>();
  private pipes: { id: number; stage: number }[] = [];
  private nextPipe = 1;
  private depth = 0;
  private nodes = 0;
  private stopped = false;
  private feed: { index: number; kind: SimpleCommand['feedKind']; assignTo?: string } | undefined;
  private fn: string | undefined;

  /** The variables known to the words being read now (the caller's, and the line's own up to here). */
  private level: KnownVars | undefined;
  /** Commands made now belong to a resolved top-level assignment. */
  private inSite = false;

  constructor(
    private readonly src: string,
    private readonly limits: Limits,
    private readonly known?: KnownVars,
    private readonly plan?: LinePlan,
  ) {
    this.level = known;
  }

  private fail(node: Node, rule: string, why: string): void {
    this.findings.push(finding('approve', rule, why, clip(node.text), { floor: true }));
  }

  private enter(node: Node): boolean {
    if (this.stopped) return false;
    if (++this.nodes > this.limits.maxNodes) {
      this.stopped = true;
      this.findings.push(
        finding(
          'approve',
          'limits.nodes',
          `command is too complex to check (over ${this.limits.maxNodes} syntax nodes)`,
          clip(node.text),
          { floor: true },
        ),
      );
      return false;
    }
    if (this.depth >= this.limits.maxDepth) {
      this.stopped = true;
      this.findings.push(
        finding(
          'approve',
          'limits.nesting',
          `command nests deeper than ${this.limits.maxDepth} levels`,
          clip(node.text),
          { floor: true },
        ),
      );
      return false;
    }
    return true;
  }

  private checkToken(node: Node, parent: Node): void {
    if (node.isMissing) {
      this.fail(parent, 'parse.missing', `incomplete command: missing "${node.type}"`);
      return;
    }
    if (!OK_TOKENS.has(node.type)) {
      this.fail(parent, 'parse.token', `unexpected token "${node.type}"`);
      return;
    }
    if ((node.type === ';;' || node.type === ';&' || node.type === ';;&') && parent.type !== 'case_item') {
      this.fail(parent, 'parse.token', `"${node.type}" outside a case statement`);
    }
  }

  statement(node: Node): void {
    if (!this.enter(node)) return;
    this.depth++;
    try {
      this.statementInner(node);
    } finally {
      this.depth--;
    }
  }

  private statementInner(node: Node): void {
    if (node.isError || node.isMissing) {
      this.fail(node, 'parse.error', 'the command has a syntax error and cannot be checked');
      // Still look inside: a catastrophe next to a syntax error must stay a deny.
      for (const c of node.namedChildren) this.statement(c);
      return;
    }
    const t = node.type;
    if (STATEMENT_CONTAINERS.has(t)) {
      for (let i = 0; i < node.childCount; i++) {
        const c = node.child(i);
        if (!c) continue;
        if (!c.isNamed) {
          this.checkToken(c, node);
          continue;
        }
        // Only for/case carry fields that matter here (`in WORDS`, `case WORD`): ask only them.
        const field =
          t === 'for_statement' || t === 'case_statement' || t === 'case_item' ? node.fieldNameForChild(i) : null;
        if (field === 'value' || field === 'variable') {
          this.loneWord(c);
          continue;
        }
        const first = this.commands.length;
        // Top-level statements see the line's assignments made before them (src/guard/resolve.ts).
        if (this.plan && t === 'program') {
          this.level = this.plan.at(c.startIndex);
          this.inSite = this.plan.sites.has(c.startIndex);
        }
        this.statement(c);
        if (this.plan && t === 'program') this.inSite = false;
        // `cmd &`: the token follows the statement it sends to the background.
        const next = node.child(i + 1);
        if (next && !next.isNamed && next.type === '&')
          for (const cmd of this.commands.slice(first)) cmd.background = true;
      }
      return;
    }
    switch (t) {
      case 'comment':
        return;
      case 'pipeline':
        return this.pipeline(node.children, node, []);
      case 'command':
        this.command(node, node);
        return;
      case 'redirected_statement':
        return this.redirected(node);
      case 'negated_command':
        for (const c of node.namedChildren) this.statement(c);
        return;
      case 'variable_assignment':
        if (!validAssignName(node)) return this.assignmentsStatement(node, [node]);
        this.assignment(node);
        return;
      case 'variable_assignments':
        if (node.namedChildren.some((c) => c.type === 'variable_assignment' && !validAssignName(c)))
          return this.assignmentsStatement(node, node.namedChildren);
        for (const c of node.namedChildren) this.statement(c);
        return;
      case 'declaration_command':
      case 'unset_command':
        return this.declaration(node);
      case 'function_definition':
        return this.functionDef(node);
      case 'test_command':
      case 'c_style_for_statement':
      case 'arithmetic_expansion':
        return this.expressions(node);
      case 'word':
      case 'number':
      case 'string':
      case 'raw_string':
      case 'concatenation':
      case 'simple_expansion':
      case 'expansion':
      case 'command_substitution':
        this.loneWord(node);
        return;
      default:
        if (t === 'compound_statement' || t === 'subshell') return;
        this.fail(node, 'parse.unsupported', `unsupported shell construct "${t}"`);
        for (const c of node.namedChildren) this.statement(c);
    }
  }

  /** Words outside commands (for/case values): only their substitutions run. */
  private loneWord(node: Node): void {
    evalWord(node, this.hooks(-1));
  }

  /** `[[ … ]]`, `(( … ))`, C-style for: not commands, but substitutions inside them run. */
  private expressions(node: Node): void {
    if (node.hasError) this.fail(node, 'parse.error', 'the command has a syntax error and cannot be checked');
    const hooks = this.hooks(-1);
    for (const c of node.namedChildren) {
      if (c.type === 'do_group' || c.type === 'compound_statement') this.statement(c);
      else if (c.type === 'command_substitution') hooks.subst(c, 'command');
      else if (c.type === 'process_substitution') hooks.subst(c, 'process-in');
      else visitSubst(c, hooks);
    }
  }

  private pipeline(children: Node[], parent: Node, prefixCmds: number[]): void {
    const id = this.nextPipe++;
    let stage = 0;
    const saved = this.pipes;
    for (const i of prefixCmds) this.cmdAt(i).pipes.push({ id, stage });
    if (prefixCmds.length) stage++;
    for (const c of children) {
      if (!c.isNamed) {
        this.checkToken(c, parent);
        continue;
      }
      this.pipes = [...saved, { id, stage }];
      this.statement(c);
      stage++;
    }
    this.pipes = saved;
  }

  private redirected(node: Node): void {
    const start = this.commands.length;
    const body = node.childForFieldName('body');
    const redirs: Node[] = [];
    for (const c of node.children) {
      if (c === body || (body && c.startIndex === body.startIndex && c.type === body.type)) continue;
      if (!c.isNamed) {
        this.checkToken(c, node);
        continue;
      }
      redirs.push(c);
    }
    if (body) this.statement(body);
    const head = this.commands[start];
    if (body && body.type === 'command' && head) head.text = clip(node.text);
    const own = this.commands.slice(start);
    const targets = own.length ? [start] : [];
    // Redirects of a compound statement apply to every command inside it. After a pipeline or a
    // list (`a | b <x y`, `a && b <x y`: tree-sitter wraps the whole of it) they, and any words
    // tree-sitter attached to them, belong to its last element, as bash reads it.
    let affected = body && body.type === 'command' ? targets : own.map((_, i) => start + i);
    if (body && (body.type === 'pipeline' || body.type === 'list')) {
      const last = lastElement(body);
      affected = affected.filter((i) => {
        const at = this.starts[i];
        return at !== undefined && at >= last.startIndex;
      });
    }
    // INVARIANT: every redirect is judged. Redirects with no command (`> /etc/passwd` truncates
    // the file; `> out rm -rf /` runs rm) belong to a command of their own, whose argv is any
    // words tree-sitter attached to them (none: nothing runs, but the file is still written).
    if (!affected.length && redirs.length) affected = [this.newCommand(node)];
    for (const r of redirs) this.redirect(r, affected, node);
  }

  private redirect(r: Node, affected: number[], stmt: Node): void {
    if (r.isError) {
      this.fail(r, 'parse.error', 'the command has a syntax error and cannot be checked');
      return;
    }
    const hooks = this.hooks(affected[0] ?? -1);
    if (r.type === 'file_redirect') {
      let op = '';
      let fd: string | null = null;
      const dests: Node[] = [];
      for (const c of r.children) {
        if (!c.isNamed) {
          op += c.type;
          continue;
        }
        if (c.type === 'file_descriptor') fd = c.text;
        else if (c.type === 'ERROR') this.fail(r, 'parse.error', 'unsupported redirection');
        else dests.push(c);
      }
      if (dests[0] && this.src.slice(r.startIndex, dests[0].startIndex).includes('\n')) {
        this.fail(r, 'parse.error', 'a redirection without a target before the end of the line');
      }
      // tree-sitter may split one word among the redirect's parts (`<a $''\a''` is the target `a`
      // and one argument `a` to bash): parts that touch are one word, as in an argument list.
      const words: Word[] = [];
      let end = -1;
      for (const d of dests) {
        const w = evalWord(d, hooks);
        const prev = words.at(-1);
        if (prev && this.continuesWord(end, d.startIndex)) words[words.length - 1] = joinWords(prev, w);
        else words.push(w);
        end = d.endIndex;
      }
      // `>&-` and `<&-` close a descriptor and take no target: a word tree-sitter gives them as one
      // (`rm -rf >&- /`) is an argument to bash.
      const closes = op.endsWith('-');
      const redir: Redir = { op, fd, target: closes ? null : (words[0] ?? null) };
      // tree-sitter attaches words after a redirect (`git >/dev/null reset --hard`) to the
      // redirect; bash passes them to the command as arguments.
      const extra = closes ? words : words.slice(1);
      for (const i of affected) {
        const cmd = this.cmdAt(i);
        cmd.redirects.push(redir);
        if (extra.length) cmd.argv.push(...extra);
      }
      return;
    }
    if (r.type === 'herestring_redirect') {
      const w = r.namedChildren[0];
      const word = w ? evalWord(w, hooks) : undefined;
      for (const i of affected) this.cmdAt(i).stdin = { text: word?.text ?? '', dynamic: word?.dynamic ?? true };
      return;
    }
    if (r.type === 'heredoc_redirect') {
      let quoted = false;
      let bodyText = '';
      let dynamic = false;
      let startEnd = -1;
      let endStart = -1;
      for (const c of r.namedChildren) {
        if (c.type === 'heredoc_start') startEnd = c.endIndex;
        if (c.type === 'heredoc_end') endStart = c.startIndex;
        if (c.type === 'word' || c.type === 'concatenation' || c.type === 'string' || c.type === 'raw_string') {
          // tree-sitter-bash misreads some bodies (one starting with `\`) as words: a parser
          // differential, so fail closed and take the body from the source text instead.
          this.fail(r, 'parse.heredoc', 'a here-document the parser reads ambiguously');
        }
      }
      const rawBody =
        startEnd >= 0 && endStart > startEnd
          ? this.src.slice(this.src.indexOf('\n', startEnd) + 1, endStart)
          : undefined;
      const pipeParts: Node[] = [];
      const after: Node[] = [];
      for (const c of r.children) {
        if (!c.isNamed) {
          if (c.type === '|' || c.type === '|&') pipeParts.push(c);
          continue;
        }
        switch (c.type) {
          case 'heredoc_start':
            quoted = /['"\\]/.test(c.text);
            break;
          case 'heredoc_body': {
            if (quoted) {
              bodyText = rawBody ?? c.text;
              break;
            }
            const w = evalWord(c, this.hooks(affected[0] ?? -1));
            bodyText = w.text;
            dynamic = w.dynamic;
            break;
          }
          case 'heredoc_end':
            break;
          case 'file_redirect':
          case 'herestring_redirect':
            this.redirect(c, affected, stmt);
            break;
          case 'pipeline':
            pipeParts.push(c);
            break;
          case 'word':
          case 'concatenation':
          case 'string':
          case 'raw_string':
            break;
          default:
            after.push(c);
        }
      }
      if (quoted && rawBody !== undefined) bodyText = rawBody;
      else if (rawBody !== undefined && r.namedChildren.some((c) => c.type === 'word' || c.type === 'concatenation')) {
        bodyText = rawBody;
        dynamic = true;
      }
      for (const i of affected) this.cmdAt(i).stdin = { text: bodyText, dynamic };
      // `cat <<EOF | psql`: tree-sitter nests the rest of the pipeline inside the heredoc node.
      for (const p of pipeParts) {
        if (p.isNamed) this.pipeline(p.children, p, affected);
      }
      if (pipeParts.some((p) => !p.isNamed) && after.length) {
        // `|` directly inside the heredoc node: the following statements are pipeline stages.
        this.pipeline(after.splice(0), r, affected);
      }
      for (const a of after) this.statement(a);
      return;
    }
    this.fail(r, 'parse.unsupported', `unsupported redirection "${r.type}"`);
  }

  /** `hooks(consumer)` objects, made once per consumer index (index + 1; -1 is "none"). */
  private readonly hookCache: WordHooks[] = [];

  /**
   * Word hooks whose substitutions feed command `consumer` (-1: none). The hooks depend only on
   * `consumer` (everything else is read from `this` when they run), so one object per index is
   * reused instead of allocating two closures for every command, redirect and word list.
   */
  private hooks(consumer: number): WordHooks {
    return (this.hookCache[consumer + 1] ??= this.makeHooks(consumer));
  }

  private makeHooks(consumer: number): WordHooks {
    const level = (): KnownVars | undefined => this.level;
    return {
      // Read when a word is evaluated: the values known at that statement.
      get known() {
        return level();
      },
      subst: (node, kind) => {
        const saved = this.pipes;
        const savedFeed = this.feed;
        this.pipes = [];
        this.feed =
          consumer >= 0
            ? { index: consumer, kind: kind === 'command' ? 'arg' : kind === 'process-in' ? 'file-in' : 'file-out' }
            : undefined;
        if (consumer < 0 && savedFeed?.kind === 'assign') this.feed = savedFeed;
        try {
          if (!this.enter(node)) return;
          this.depth++;
          for (const c of node.children) {
            if (!c.isNamed) continue;
            this.statement(c);
          }
          this.depth--;
        } finally {
          this.pipes = saved;
          this.feed = savedFeed;
        }
      },
      unknown: (node, why) => this.fail(node, 'parse.unsupported', why),
    };
  }

  private newCommand(at: Node, text: string = at.text): number {
    const cmd: SimpleCommand = { argv: [], assigns: [], redirects: [], text: clip(text), pipes: [...this.pipes] };
    this.starts.push(at.startIndex);
    if (this.feed) {
      cmd.feeds = this.feed.index;
      cmd.feedKind = this.feed.kind;
      if (this.feed.assignTo) cmd.assignTo = this.feed.assignTo;
    }
    if (this.fn) cmd.inFunction = this.fn;
    if (this.inSite) cmd.lineSite = true;
    this.commands.push(cmd);
    return this.commands.length - 1;
  }

  /** The command at `i`, an index newCommand handed out (so it is there; throws if not). */
  private cmdAt(i: number): SimpleCommand {
    const cmd = this.commands[i];
    if (!cmd) throw new Error(`no command at index ${i}`);
    return cmd;
  }

  private command(node: Node, textNode: Node): number {
    const idx = this.newCommand(node, textNode.text);
    const cmd = this.cmdAt(idx);
    const hooks = this.hooks(idx);
    const words: { start: number; end: number; word: Word }[] = [];
    const kids = node.children;
    let started = false;
    // The last assignment and where its word ends: parts right after it belong to its value.
    let lastAssign: { name: string; value: Word; append?: boolean } | undefined;
    let assignEnd = -1;
    for (let k = 0; k < kids.length; k++) {
      const c = kids[k]!;
      // `A=]\echo rm`: tree-sitter ends the value at `]` and makes `\echo` the command; bash reads
      // one word `A=]echo` (an assignment) and runs `rm`. Adjacent parts continue the value.
      if (
        lastAssign &&
        c.isNamed &&
        (c.type === 'command_name' ||
          c.type === 'word' ||
          c.type === 'concatenation' ||
          c.type === 'string' ||
          c.type === 'raw_string' ||
          c.type === 'ansi_c_string' ||
          c.type === 'translated_string' ||
          c.type === 'number' ||
          c.type === 'simple_expansion' ||
          c.type === 'expansion' ||
          c.type === 'command_substitution') &&
        this.continuesWord(assignEnd, c.startIndex)
      ) {
        const inner = c.type === 'command_name' ? c.namedChildren[0] : c;
        if (inner) lastAssign.value = joinWords(lastAssign.value, evalWord(inner, hooks));
        assignEnd = c.endIndex;
        // tree-sitter took the part for the program name, so the words after it may be more
        // assignments (`A=""\a B=1 cmd`) that it read as arguments: fail closed on those.
        if (c.type === 'command_name') {
          const nextWord = kids
            .slice(k + 1)
            .find((x) => x.isNamed && !/redirect$/.test(x.type) && x.type !== 'comment');
          if (nextWord && /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(nextWord.text))
            this.fail(node, 'parse.differential', 'an assignment the parser reads as an argument');
        }
        continue;
      }
      lastAssign = undefined;
      if (!c.isNamed) {
        // `$"…"` shows up as a lone `$` token followed by a string; any other lone `$` is text.
        if (c.type === '$') {
          // The token may carry text before the `$` (`-$"r"` is one `-$` token, then the string).
          const translated = this.src.charCodeAt(c.endIndex) === 34; /* " */
          const t = translated ? c.text.slice(0, -1) : c.text;
          if (/[\\*?[{~]/.test(t)) this.fail(c, 'parse.unsupported', 'unexpected text before a "$"');
          words.push({ start: c.startIndex, end: c.endIndex, word: { ...literalWord(t), raw: c.text } });
          started = true;
          continue;
        }
        this.checkToken(c, node);
        continue;
      }
      if (c.type !== 'variable_assignment' && c.type !== 'comment' && !/redirect$/.test(c.type)) started = true;
      switch (c.type) {
        case 'variable_assignment': {
          // `1a=x cmd`, `é=x cmd`: not a valid name, so bash runs `1a=x` as the program; and once
          // a word is not an assignment, the ones after it are arguments too.
          if (started || !validAssignName(c)) {
            started = true;
            words.push({ start: c.startIndex, end: c.endIndex, word: this.assignmentAsWord(c, hooks) });
            break;
          }
          const a = this.assignmentWord(c, hooks);
          if (a) {
            cmd.assigns.push(a);
            lastAssign = a;
            assignEnd = c.endIndex;
          }
          break;
        }
        case 'command_name': {
          const inner = c.namedChildren[0];
          // A reserved word where a program name belongs is a bash syntax error tree-sitter
          // accepts as a plain command (`]] x`, `! if`): fail closed.
          if (
            /^(done|fi|then|esac|do|elif|else|in|if|for|while|until|case|select|function|\[\[|\]\]|\}|\{)$/.test(c.text)
          )
            this.fail(node, 'parse.token', `unexpected reserved word "${c.text}"`);
          if (inner) words.push({ start: c.startIndex, end: c.endIndex, word: evalWord(inner, hooks) });
          break;
        }
        case 'file_redirect':
        case 'heredoc_redirect':
        case 'herestring_redirect':
          this.redirect(c, [idx], node);
          break;
        case 'ERROR':
          this.fail(c, 'parse.error', 'the command has a syntax error and cannot be checked');
          break;
        case 'comment':
          break;
        default:
          // tree-sitter-bash glues `\n\\cmd` onto the previous command as one word, where bash
          // sees a new command: a parser differential, so fail closed (the raw scan still denies).
          if (c.type === 'word' && /(^|[^\\])\n/.test(c.text))
            this.fail(
              c,
              'parse.differential',
              'a line break inside a word that shells and the parser read differently',
            );
          words.push({ start: c.startIndex, end: c.endIndex, word: evalWord(c, hooks) });
      }
    }
    // Bash joins adjacent parts and `\`-newline continuations into one word; tree-sitter may not.
    // (After the loop: a program name that is really an assignment is checked below.)
    // The previous word and where it ended (two variables, not an object per word).
    let prevWord: Word | undefined;
    let prevEnd = -1;
    for (const w of words) {
      if (prevWord && this.continuesWord(prevEnd, w.start)) {
        // `rm$""`: a bare `$` before a double quote is the `$"…"` quoting, not text.
        const left =
          this.src.charCodeAt(w.start) === 34 &&
          !prevWord.dynamic &&
          prevWord.text.endsWith('$') &&
          endsWithBareDollar(prevWord.raw)
            ? {
                ...prevWord,
                text: prevWord.text.slice(0, -1),
                prefix: prevWord.prefix.endsWith('$') ? prevWord.prefix.slice(0, -1) : prevWord.prefix,
              }
            : prevWord;
        let joined = joinWords(left, w.word);
        // `"r"m$1`: tree-sitter ends the word at the `$` and starts a new one at `1`; bash expands `$1`.
        if (
          left === prevWord &&
          ((endsWithBareDollar(prevWord.raw) && /^[A-Za-z0-9_@*#?!$({-]/.test(w.word.raw)) || endsWithPid(prevWord.raw))
        )
          joined = {
            ...joined,
            dynamic: true,
            prefix: prevWord.prefix.endsWith('$') ? prevWord.prefix.slice(0, -1) : prevWord.prefix,
          };
        cmd.argv[cmd.argv.length - 1] = joined;
        prevWord = joined;
        prevEnd = w.end;
        continue;
      }
      cmd.argv.push(w.word);
      prevWord = w.word;
      prevEnd = w.end;
    }
    // `A=""\<newline> A= x`: bash takes the second `A=` as an assignment too; tree-sitter made it
    // the program name. A valid NAME= first word is a parser differential: fail closed.
    const first = cmd.argv[0];
    if (first && /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(first.raw))
      this.fail(node, 'parse.differential', 'an assignment the parser reads as the program name');
    return idx;
  }

  /** Whether text starting at `start` continues the word that ended at `end` (adjacent, or after `\`-newlines). */
  private continuesWord(end: number, start: number): boolean {
    if (start < end || (start - end) % 2 === 1) return false;
    for (let i = end; i < start; i += 2) {
      if (this.src.charCodeAt(i) !== 92 /* \\ */ || this.src.charCodeAt(i + 1) !== 10 /* \n */) return false;
    }
    return true;
  }

  private assignmentWord(node: Node, hooks: WordHooks): { name: string; value: Word; append?: boolean } | undefined {
    const name = node.childForFieldName('name');
    const value = node.childForFieldName('value');
    const n = name?.text ?? '';
    // `a[$(cmd)]=1`: the subscript is expanded (and its substitutions run) too.
    if (name && name.type !== 'variable_name') visitSubst(name, hooks);
    const v = value ? evalWord(value, hooks) : { text: '', dynamic: false, glob: false, raw: '', vars: [], prefix: '' };
    return isAppend(node) ? { name: n, value: v, append: true } : { name: n, value: v };
  }

  /** An assignment-shaped node that bash reads as an ordinary word (`1a=x`, or after the program name). */
  private assignmentAsWord(node: Node, hooks: WordHooks): Word {
    const name = node.childForFieldName('name');
    const value = node.childForFieldName('value');
    // A subscripted name as a word is a glob pattern (and may hold substitutions): leave it to evalWord's fail-closed path.
    const head = name
      ? name.type === 'variable_name'
        ? literalWord(name.text)
        : evalWord(name, hooks)
      : literalWord('');
    const op = literalWord(isAppend(node) ? '+=' : '=');
    const v = value ? evalWord(value, hooks) : literalWord('');
    return joinWords(joinWords(head, op), v);
  }

  /** A statement of assignments of which one has an invalid name: from there on they are a command's words. */
  private assignmentsStatement(node: Node, parts: readonly Node[]): void {
    const idx = this.newCommand(node);
    const cmd = this.cmdAt(idx);
    const hooks = this.hooks(idx);
    let started = false;
    for (const c of parts) {
      if (c.type !== 'variable_assignment') {
        this.statement(c);
        continue;
      }
      if (started || !validAssignName(c)) {
        started = true;
        cmd.argv.push(this.assignmentAsWord(c, hooks));
        continue;
      }
      const a = this.assignmentWord(c, hooks);
      if (a) cmd.assigns.push(a);
    }
  }

  private assignment(node: Node): void {
    const name = node.childForFieldName('name')?.text ?? '';
    const saved = this.feed;
    this.feed = { index: -1, kind: 'assign', assignTo: name };
    const idx = this.newCommand(node);
    this.feed = saved;
    const cmd = this.cmdAt(idx);
    cmd.declaration = true;
    delete cmd.feeds;
    delete cmd.feedKind;
    delete cmd.assignTo;
    const savedFeed = this.feed;
    this.feed = { index: -1, kind: 'assign', assignTo: name };
    const a = this.assignmentWordFeeding(node, name);
    this.feed = savedFeed;
    if (a) cmd.assigns.push(a);
  }

  private assignmentWordFeeding(node: Node, name: string): { name: string; value: Word } | undefined {
    const value = node.childForFieldName('value');
    const nameNode = node.childForFieldName('name');
    const level = this.level;
    const hooks: WordHooks = {
      known: level,
      subst: (n, kind) => {
        const savedPipes = this.pipes;
        const savedFeed = this.feed;
        this.pipes = [];
        this.feed = { index: -1, kind: 'assign', assignTo: name };
        try {
          if (!this.enter(n)) return;
          this.depth++;
          for (const c of n.namedChildren) this.statement(c);
          this.depth--;
        } finally {
          this.pipes = savedPipes;
          this.feed = savedFeed;
        }
        void kind;
      },
      unknown: (n, why) => this.fail(n, 'parse.unsupported', why),
    };
    // `a[$(cmd)]=1`: the subscript is expanded (and its substitutions run) too.
    if (nameNode && nameNode.type !== 'variable_name') visitSubst(nameNode, hooks);
    const v = value ? evalWord(value, hooks) : { text: '', dynamic: false, glob: false, raw: '', vars: [], prefix: '' };
    return { name, value: v };
  }

  private declaration(node: Node): void {
    const idx = this.newCommand(node);
    const cmd = this.cmdAt(idx);
    cmd.declaration = true;
    const hooks = this.hooks(idx);
    for (const c of node.children) {
      if (!c.isNamed) {
        cmd.argv.push({ text: c.type, dynamic: false, glob: false, raw: c.type, vars: [], prefix: c.type });
        continue;
      }
      if (c.type === 'variable_assignment') {
        const a = this.assignmentWordFeeding(c, c.childForFieldName('name')?.text ?? '');
        if (a) {
          cmd.assigns.push(a);
          cmd.argv.push({
            ...a.value,
            text: `${a.name}=${a.value.text}`,
            raw: c.text,
            prefix: `${a.name}=${a.value.prefix}`,
          });
        }
      } else cmd.argv.push(evalWord(c, hooks));
    }
  }

  private functionDef(node: Node): void {
    const name = node.childForFieldName('name')?.text ?? '';
    const body = node.childForFieldName('body');
    const start = this.commands.length;
    const saved = this.fn;
    const savedLevel = this.level;
    this.fn = name;
    // A body runs when the function is called, later: the line's assignments are unknown there.
    if (this.plan) this.level = this.plan.outside;
    if (body) this.statement(body);
    this.fn = saved;
    this.level = savedLevel;
    const inner = this.commands.slice(start);
    const recursive = inner.some((c) => c.argv[0]?.text === name);
    const forks = /&(?!&)|\|/.test(body?.text ?? '');
    this.functions.set(name, { text: node.text, recursive, forks });
    for (const c of node.children) if (!c.isNamed) this.checkToken(c, node);
  }
}

/** Bash takes `NAME=…` as an assignment only when NAME is a valid identifier (optionally subscripted). */
function validAssignName(node: Node): boolean {
  const name = node.childForFieldName('name');
  if (!name) return false;
  const id = name.type === 'subscript' ? name.childForFieldName('name') : name;
  return !!id && id.type === 'variable_name' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(id.text);
}

function isAppend(node: Node): boolean {
  for (const c of node.children) if (!c.isNamed && c.type === '+=') return true;
  return false;
}

const NO_NAMES: ReadonlySet<string> = new Set();

export function clip(s: string, n = 200): string {
  return truncateText(s, n + 1);
}

/** The last statement of a pipeline or list, through nested ones (`a && b | c` ends with `c`). */
function lastElement(n: Node): Node {
  let cur = n;
  while (cur.type === 'pipeline' || cur.type === 'list') {
    const kids = cur.namedChildren.filter((k) => k.type !== 'comment');
    const last = kids.at(-1);
    if (!last) break;
    cur = last;
  }
  return cur;
}

/**
 * `known`: variables whose values the caller set and the line does not change; `resolveLine`: also
 * resolve the line's own top-level assignments for the words after them (src/guard/resolve.ts).
 */
export function extractScript(root: Node, src: string, limits: Limits, known?: KnownVars, resolveLine = false): Script {
  const plan = resolveLine ? planLine(root, src, known) : undefined;
  const w = new Walker(src, limits, known, plan);
  // A tree that does not match the source byte for byte (a silent misparse, no ERROR node) is
  // unparseable input: fail closed here, and analyze() adds the raw-text deny scan for `parse.*`.
  const u = findUnfaithful(root, src);
  if (u)
    w.findings.push(
      finding(
        'approve',
        'parse.differential',
        `the parser and bash would read this command differently: ${u.why}`,
        clip(u.node.text),
        { floor: true },
      ),
    );
  w.statement(root);
  if (root.hasError) {
    w.findings.push(
      finding('approve', 'parse.error', 'the command has a syntax error and cannot be checked', clip(src), {
        floor: true,
      }),
    );
  }
  return { commands: w.commands, findings: w.findings, functions: w.functions, lineNames: plan?.names ?? NO_NAMES };
}
