/**
 * The setup an interactive session's shell gets at open, before the agent's first send.
 *
 * The login shell has already read the account's rc files, and whatever they set (aliases,
 * functions, traps, prompt hooks, readline bindings, shell options) would change how the agent's
 * later lines are read and run without the guard seeing it. Three lines reset that and check it:
 *
 * 1. POSIX-only syntax: prints the marker `GH<nonce>A <pid> <BASH_VERSION>`, so a shell that is
 *    not bash (dash, zsh, …) is recognised at once and the session refused.
 * 2. bash setup, alias-proof (every command word is `\`-quoted, because this line is parsed while
 *    the rc files' aliases are still active) and function-proof (`POSIXLY_CORRECT` puts bash in
 *    POSIX mode, where the special builtin `unset` wins over any function named like it; it then
 *    removes every function before anything else runs).
 * 3. Verification, parsed after line 2 ran (no aliases any more): prints
 *    `GH<nonce>B <flags>` where flags is `ok` or a letter for every setting that did not stick
 *    (e.g. a readonly PROMPT_COMMAND set by an rc file).
 *
 * The markers are printed with `printf 'GH%sA'` and the nonce as an argument, so the terminal's
 * echo of the line itself never contains a marker. The nonce is per session and random.
 *
 * After the setup the shell has no line editor (no readline: no key bindings, macros or
 * completion can run anything; the terminal driver reads lines in canonical mode), no history
 * and no history expansion, no aliases, no functions except a locked command_not_found_handle,
 * no traps, a fixed prompt, default glob and word-splitting behaviour, and job control on (every
 * foreground job gets its own process group, which is what session-foreground.ts relies on).
 * PS0, PS1, PS2, PS4, PROMPT_COMMAND, HISTFILE and HISTSIZE are made readonly, so the shell itself
 * refuses to change the prompt hooks or bring history back, whatever the guard decides.
 */

/** What line 2 resets; each letter is reported by line 3 when the reset did not stick. */
export const INIT_CHECKS: Readonly<Record<string, string>> = {
  H: 'history expansion is on',
  Y: 'command history is on',
  R: 'the line editor (readline) is on',
  A: 'aliases still expand',
  L: 'aliases are still defined',
  F: 'shell functions are still defined',
  T: 'traps are still set',
  P: 'PROMPT_COMMAND or PS0 is set',
  S: 'the prompt strings could not be fixed',
  M: 'job control is off',
  D: 'extdebug is on',
  X: 'POSIX mode is still on',
  O: 'a shell option that changes how commands run is on (-k, -e, -u, -v, -x, -E, -T, -f or -a)',
};

export interface InitLines {
  /** The text to write (three newline-terminated lines). */
  text: string;
  /** Matches marker A in the raw output (CRLF or LF): pid and BASH_VERSION. */
  markerA: RegExp;
  /** Matches marker B in the raw output: the verification flags, through the end of its line. */
  markerB: RegExp;
}

/** The three setup lines for a session whose nonce is `nonce` (hex). */
export function initLines(nonce: string): InitLines {
  if (!/^[0-9a-f]{16,64}$/.test(nonce)) throw new Error('init nonce must be hex');
  const line1 = `\\printf 'GH%sA %s %s\\n' ${nonce} "$$" "\${BASH_VERSION-}"`;
  const line2 = [
    // POSIX mode: the special builtin `unset` is found before functions, so no rc-file function
    // named unset/builtin/set/… can intercept the reset. Leaving POSIX mode again right after.
    'POSIXLY_CORRECT=y',
    '\\unset -f builtin unset command set shopt trap printf read readonly declare compgen alias unalias hash history complete enable',
    '\\unset POSIXLY_CORRECT',
    '\\builtin set +o posix',
    '\\builtin unset IFS',
    '\\builtin set -f',
    '\\builtin unset -f $(\\builtin compgen -A function)',
    '\\builtin set +f',
    '\\builtin unalias -a',
    '\\builtin shopt -u expand_aliases extdebug promptvars extglob dotglob nullglob failglob globstar nocaseglob nocasematch xpg_echo',
    // No line editor: bindings, macros, `bind -x` and completion cannot run anything.
    '\\builtin set +o emacs +o vi +o history +H +a +k +e +u +v +x +E +T +f -m -B -h',
    '\\builtin trap - DEBUG RETURN ERR EXIT',
    '\\builtin trap - {1..64} 2>/dev/null',
    '\\builtin complete -r',
    '\\builtin hash -r',
    '\\builtin history -c',
    '\\builtin unset PROMPT_COMMAND PS0 HISTFILE CDPATH GLOBIGNORE TMOUT INPUTRC BASH_XTRACEFD',
    "PS1='$ ' PS2= PS4='+ ' HISTSIZE=0",
    'command_not_found_handle () { \\builtin printf \'bash: %s: command not found\\n\' "$1" >&2; return 127; }',
    '\\builtin readonly -f command_not_found_handle',
    '\\builtin readonly PS0 PS1 PS2 PS4 PROMPT_COMMAND HISTFILE HISTSIZE',
  ].join('; ');
  const checks = [
    '__gh_f=',
    '[[ $- == *H* ]] && __gh_f+=H',
    '[[ -o history ]] && __gh_f+=Y',
    '[[ -o emacs || -o vi ]] && __gh_f+=R',
    'shopt -q expand_aliases && __gh_f+=A',
    '[[ -n $(alias) ]] && __gh_f+=L',
    '[[ $(compgen -A function) != command_not_found_handle ]] && __gh_f+=F',
    '[[ -n $(trap -p) ]] && __gh_f+=T',
    '[[ -n ${PROMPT_COMMAND+x}${PS0+x} ]] && __gh_f+=P',
    "[[ $PS1 != '$ ' || -n $PS2 || $PS4 != '+ ' ]] && __gh_f+=S",
    '[[ $- != *m* ]] && __gh_f+=M',
    'shopt -q extdebug && __gh_f+=D',
    '[[ -o posix ]] && __gh_f+=X',
    '[[ $- == *[keuvxETfa]* ]] && __gh_f+=O',
    `printf 'GH%sB %s\\n' ${nonce} "\${__gh_f:-ok}"`,
    'unset __gh_f',
  ].join('; ');
  return {
    text: `${line1}\n${line2}\n${checks}\n`,
    markerA: new RegExp(`GH${nonce}A (\\d+) ([^\\r\\n]*)\\r*\\n`),
    markerB: new RegExp(`GH${nonce}B ([A-Za-z]+)\\r*\\n`),
  };
}

/** Human words for the flags marker B reported (empty when all is well). */
export function describeInitFlags(flags: string): string[] {
  if (flags === 'ok') return [];
  return [...new Set(flags.split(''))].map((f) => INIT_CHECKS[f] ?? `unknown check ${f}`);
}
