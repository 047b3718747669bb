/**
 * Whether a command line may destroy or overwrite files where it runs: the trigger for an
 * automatic checkpoint before the command (src/checkpoints) and for soft delete.
 *
 * This is not a verdict (the guard's rules decide whether the command runs at all); it decides
 * only whether to take a snapshot first, so it leans toward yes: a line the parser cannot read, a
 * program chosen at run time, a shell string that cannot be read, an interpreter running inline
 * code and an output redirection that truncates all count as destructive. Programs that only add
 * files (mkdir, touch, cp to a new name is still counted: cp overwrites) are listed by what they
 * can destroy, not by intent.
 */
import { progName, type View } from './argv.js';
import { MAX_NODES, MAX_REPARSE_DEPTH, MAX_TREE_DEPTH } from './engine.js';
import { extractScript, type SimpleCommand } from './extract.js';
import { withTree, type Parser } from './parser.js';
import { INTERPRETERS } from './rules-sys.js';
import { SHELLS, unwrap } from './wrappers.js';
import type { Word } from './words.js';

export interface WorkspaceChange {
  /** Whether the line may delete files (soft delete keeps them restorable). */
  deletes: boolean;
  /** Whether the line may destroy or overwrite file content (delete, move over, truncate, reset). */
  destructive: boolean;
  /** Why, for the audit record and the agent's result (e.g. `rm`, `git reset`, `> file`). */
  reasons: string[];
}

/** Programs that delete files whatever their arguments. */
const DELETERS = new Set(['rm', 'rmdir', 'unlink', 'shred', 'srm', 'wipe', 'trash', 'trash-put', 'gio']);

/** Programs that overwrite, move over or truncate files. */
const OVERWRITERS = new Set([
  'mv',
  'cp',
  'dd',
  'truncate',
  'install',
  'rsync',
  'patch',
  'ln',
  'tee',
  'sponge',
  'unzip',
  'tar',
  'cpio',
  'split',
  'csplit',
  'fallocate',
  'chmod',
  'chown',
  'chgrp',
  'setfacl',
  'rename',
  'prename',
  'mmv',
]);

/** Git subcommands that discard work-tree or index state. */
const GIT_DESTRUCTIVE = new Set([
  'reset',
  'checkout',
  'switch',
  'restore',
  'clean',
  'stash',
  'rm',
  'mv',
  'rebase',
  'merge',
  'pull',
  'apply',
  'am',
  'cherry-pick',
  'revert',
  'filter-branch',
  'filter-repo',
]);
const GIT_DELETING = new Set(['clean', 'rm']);

/** Editors of files in place (sed -i, perl -i). */
const IN_PLACE = new Set(['sed', 'gsed', 'perl', 'ruby']);

const HARMLESS_TARGETS = /^\/dev\/(null|stdout|stderr|tty|fd\/[0-9]+)$/;

/** What `command` may do to the files of the directory it runs in. */
export function workspaceChange(parser: Parser, command: string): WorkspaceChange {
  const out: WorkspaceChange = { deletes: false, destructive: false, reasons: [] };
  line(parser, command, 0, out);
  return out;
}

function mark(out: WorkspaceChange, reason: string, deletes: boolean): void {
  out.destructive = true;
  if (deletes) out.deletes = true;
  if (!out.reasons.includes(reason) && out.reasons.length < 8) out.reasons.push(reason);
}

function line(parser: Parser, text: string, depth: number, out: WorkspaceChange): void {
  if (depth > MAX_REPARSE_DEPTH) {
    mark(out, 'nested too deep to read', true);
    return;
  }
  let cmds: SimpleCommand[];
  try {
    const script = withTree(parser, text, (root) =>
      extractScript(root, text, { maxDepth: MAX_TREE_DEPTH, maxNodes: MAX_NODES }),
    );
    // A finding from extraction means a part the walk could not read (fail-closed in the guard).
    if (script.findings.some((f) => f.floor === true)) mark(out, 'a part of the line cannot be read', true);
    cmds = script.commands;
  } catch {
    mark(out, 'the line cannot be parsed', true);
    return;
  }
  for (const c of cmds) {
    for (const r of c.redirects) redirect(r.op, r.target, out);
    if (c.declaration === true) continue;
    argv(parser, c.argv, c, depth, out);
  }
}

function redirect(op: string, target: Word | null, out: WorkspaceChange): void {
  // `>>` appends (nothing is lost); `>&2`, `2>&1` duplicate descriptors.
  if (!['>', '>|', '&>', '<>'].includes(op)) return;
  if (target === null) return;
  if (!target.dynamic && (HARMLESS_TARGETS.test(target.text) || /^[0-9]+$/.test(target.text) || target.text === '-')) {
    return;
  }
  mark(out, `${op} ${target.raw}`, false);
}

function argv(parser: Parser, words: Word[], sc: SimpleCommand, depth: number, out: WorkspaceChange): void {
  const head = words[0];
  if (head === undefined) return;
  if (head.dynamic) {
    mark(out, `a program chosen at run time (${head.raw})`, true);
    return;
  }
  const prog = progName(head.text);
  const args = words.slice(1);
  const texts = args.map((a) => a.text);
  if (prog === 'find' && texts.some((t) => t === '-delete')) mark(out, 'find -delete', true);
  if (prog === 'eval') {
    if (args.some((a) => a.dynamic)) mark(out, 'eval of a string known only at run time', true);
    else line(parser, texts.join(' '), depth + 1, out);
    return;
  }
  if (prog === 'source' || prog === '.') {
    mark(out, `${prog} runs a script file`, true);
    return;
  }
  const v: View = { prog, path: head.text, args, sc, depth, text: sc.text };
  const inner = unwrap(v);
  // A shell reading a script file or its standard input runs code this walk does not see (the
  // guard judges a heredoc or a piped script; a soft delete it allows must be checkpointed).
  if (SHELLS.has(prog) && (inner === undefined || inner.scripts.length === 0)) {
    mark(out, `${prog} runs a script this check does not read`, true);
  }
  if (inner !== undefined) {
    for (const a of inner.argvs) argv(parser, a, sc, depth + 1, out);
    for (const s of inner.scripts) {
      if (s.dynamic) mark(out, `${prog} runs a string known only at run time`, true);
      else line(parser, s.text, depth + 1, out);
    }
    return;
  }
  if (DELETERS.has(prog)) {
    mark(out, prog, true);
  } else if (prog === 'find') {
    if (texts.some((t) => ['-delete', '-exec', '-execdir', '-ok', '-okdir'].includes(t)))
      mark(out, 'find -delete/-exec', true);
  } else if (prog === 'xargs' || prog === 'parallel') {
    // Whatever they run gets its arguments at run time.
    mark(out, `${prog} runs commands with arguments known only at run time`, true);
  } else if (prog === 'git') {
    // Options before the subcommand; -C, -c and the long ones without `=` take a value.
    let i = 0;
    while (i < texts.length && texts[i]!.startsWith('-')) {
      i += /^(-C|-c|--git-dir|--work-tree|--namespace|--exec-path|--config-env)$/.test(texts[i]!) ? 2 : 1;
    }
    const sub = texts[i];
    if (sub !== undefined && GIT_DESTRUCTIVE.has(sub)) mark(out, `git ${sub}`, GIT_DELETING.has(sub));
  } else if (OVERWRITERS.has(prog)) {
    if (prog === 'tee' && texts.some((t) => t === '-a' || t === '--append')) return;
    if (prog === 'tar' && !texts.some((t) => /^-?[A-Za-z]*x/.test(t) || t === '--extract' || t === '--get')) return;
    mark(out, prog, prog === 'mv' || prog === 'rsync');
  } else if (IN_PLACE.has(prog)) {
    if (texts.some((t) => /^-[A-Za-z]*i/.test(t) || t.startsWith('--in-place'))) mark(out, `${prog} -i`, false);
    else if (prog !== 'sed' && texts.some((t) => /^-[A-Za-z]*e/.test(t))) mark(out, `${prog} runs inline code`, true);
  } else if (INTERPRETERS.test(prog)) {
    mark(out, `${prog} runs code that may change files`, true);
  }
}
