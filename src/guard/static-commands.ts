import { CONTROL } from './analyze.js';
import { extractScript, type Script, type SimpleCommand } from './extract.js';
import { stillKnown } from './resolve.js';
import { withTree, type Parser } from './parser.js';
import type { Word } from './words.js';

/**
 * The guard's static reading of a line, exposed for the differential test against real bash
 * (test/guard/differential.test.ts): same parse and extraction as `analyze`, and the commands the
 * guard believes bash runs when it resolved every word. Internal: not part of the guard's API.
 */

/** A simple command as the guard evaluates it: what bash would run, if the guard is right. */
export interface StaticCommand {
  /** Assignments before the program name, as `NAME=value` after evaluation. */
  assigns: string[];
  argv: string[];
  /** staticCommands only: files its output redirections write (`>`, `>>`, `&>`, `>|`, `<>`). */
  writes?: string[];
}

/** The extracted script when it raised no structural finding and defines no function. */
function scriptOf(text: string, parser: Parser, resolveLine = false): Script | undefined {
  let script: Script;
  try {
    script = withTree(parser, text, (root) =>
      extractScript(root, text, { maxDepth: 200, maxNodes: 60_000 }, undefined, resolveLine),
    );
  } catch {
    return undefined;
  }
  return script.findings.length || script.functions.size ? undefined : script;
}

/** Whether every word the command's evaluation depends on is static (no expansion, glob or brace). */
function allStatic(c: SimpleCommand): boolean {
  const words = [
    ...c.assigns.map((a) => a.value),
    ...c.argv,
    ...c.redirects.map((r) => r.target).filter((w): w is Word => w !== null),
  ];
  return !words.some((w) => w.dynamic || w.glob);
}

function assignsOf(c: SimpleCommand): string[] {
  return c.assigns.map((a) => `${a.name}${a.append ? '+=' : '='}${a.value.text}`);
}

/**
 * The command the guard believes bash runs for `text`, when it reads `text` as exactly one simple
 * command (no redirections, heredocs, functions or substitutions) whose every word it resolved
 * statically, and raised no structural finding on the way; else undefined.
 */
export function staticCommand(text: string, parser: Parser): StaticCommand | undefined {
  // A leading `!` is negation to tree-sitter even when glued to a word (`!'' x`), where bash runs a
  // program named `!`: not a plain simple command (the guard then checks the rest, which is stricter).
  if (CONTROL.test(text) || /^\s*!/.test(text)) return undefined;
  const script = scriptOf(text, parser);
  if (!script || script.commands.length !== 1) return undefined;
  const c = script.commands[0]!;
  if (
    c.declaration ||
    c.redirects.length ||
    c.stdin ||
    c.pipes.length ||
    c.feeds !== undefined ||
    !c.argv.length ||
    !allStatic(c)
  )
    return undefined;
  return { assigns: assignsOf(c), argv: c.argv.map((w) => w.text) };
}

/**
 * Every simple command of a line of pipelines and lists (`;`, `|`, `&&`, `||`, redirections,
 * here-strings, heredocs), when the guard resolved all of their words statically; else undefined.
 */
export function staticCommands(text: string, parser: Parser): StaticCommand[] | undefined {
  // `!` glued to a word at a command's start is a program name to bash and a negation to
  // tree-sitter (`; !''rm` runs a program `!rm`): the guard's reading is the stricter one.
  if (CONTROL.test(text) || /(^|[;&|\n({])\s*!/.test(text)) return undefined;
  const script = scriptOf(text, parser);
  if (!script || !script.commands.length) return undefined;
  const out: StaticCommand[] = [];
  for (const c of script.commands) {
    // A command of redirects alone (`> out`) has no argv: kept for its writes.
    if (
      c.declaration ||
      c.feeds !== undefined ||
      (!c.argv.length && (c.assigns.length || !c.redirects.length)) ||
      c.stdin?.dynamic ||
      !allStatic(c)
    )
      return undefined;
    const writes = c.redirects
      .filter((r) => r.target && /^(>|>>|&>|&>>|>\||<>)$/.test(r.op))
      .map((r) => r.target!.text);
    out.push({ assigns: assignsOf(c), argv: c.argv.map((w) => w.text), writes });
  }
  return out;
}

/**
 * The commands a line runs after resolving its own top-level assignments as the analyzer does
 * (src/guard/resolve.ts planLine): the argv of every command that is not one of those assignments,
 * with words of known split values expanded into the words bash builds. Undefined when any word
 * of them stays unknown, or the line raised a structural finding. For the assignment differential
 * against bash (test/guard/judge-assign-differential.test.ts).
 */
export function resolvedCommands(text: string, parser: Parser): string[][] | undefined {
  if (CONTROL.test(text) || /(^|[;&|\n({])\s*!/.test(text)) return undefined;
  const script = scriptOf(text, parser, true);
  if (!script) return undefined;
  // As the analyzer does: a command that can assign a name the guard cannot see (source, eval,
  // read "$n" …) makes everything the line resolved unknown.
  if (script.lineNames.size && !stillKnown(script.commands, script.lineNames)) return undefined;
  const out: string[][] = [];
  for (const c of script.commands) {
    if (c.lineSite) continue;
    if (c.declaration || c.redirects.length || c.stdin || c.feeds !== undefined || !c.argv.length || c.assigns.length)
      return undefined;
    const argv: string[] = [];
    for (const w of c.argv) {
      if (w.fields) {
        argv.push(...w.fields);
        continue;
      }
      if (w.dynamic || w.glob) return undefined;
      argv.push(w.text);
    }
    out.push(argv);
  }
  return out;
}
