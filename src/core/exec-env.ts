/**
 * The one list of environment variable names that hijack execution: set by a caller, they make a
 * program load or run code of the caller's choosing, or make a name the guard judged resolve to
 * another program. Used by the guard (inline `X=… cmd`, `env X=…`, `sudo X=…`, `export`, and the
 * `env` a caller passes to `ssh_exec`/`exec`), by the sandbox's environment builder, and by the SSH
 * command builder (defence in depth).
 *
 * Classes and what each means for a name a caller passes as separate `env` (inline assignments
 * are visible in the command a person approves, and stay `approve` for every class):
 *
 * - `loader`: the dynamic loader and C library act on it in EVERY dynamically linked program
 *   before `main`, including the shell that runs the command line. `deny`.
 * - `shell-startup`: a shell runs it as code (or reads key bindings from it) when it starts or
 *   before every prompt or traced command, so it acts on the line's own shell before anything the
 *   guard judged. `deny`.
 * - `shell`: changes how the shell resolves names, paths and words (PATH, HOME, CDPATH, …) or what
 *   it writes. `approve`.
 * - `interpreter`: makes one interpreter load code of the caller's choosing (`NODE_OPTIONS=--require`,
 *   `PYTHONPATH`, `PERL5OPT=-M…`). Common legitimately (`NODE_OPTIONS=--max-old-space-size`), and it
 *   acts only when that interpreter runs. `approve`.
 * - `tool`: makes a tool run a program, read a configuration file that runs programs, or write a
 *   file (`GIT_SSH_COMMAND`, `PAGER`, `EDITOR`, `KUBECONFIG` exec plugins…). `approve`.
 *
 * Sources: bash(1) "Shell Variables" and INVOCATION, ld.so(8) ENVIRONMENT, git(1) and
 * git-config(1) ENVIRONMENT, python(1), node(1), perlrun(1), ruby(1), lua(1), less(1), man(1),
 * psql(1), sudo(8), tar(1), make(1), gettext, the JVM, .NET and Cargo documentation.
 */

export type ExecEnvClass = 'loader' | 'shell-startup' | 'shell' | 'interpreter' | 'tool';
export type ExecEnvVerdict = 'deny' | 'approve';

export interface ExecEnvEntry {
  /** The exact name, or a prefix when `prefix` is true. */
  name: string;
  prefix?: true;
  class: ExecEnvClass;
  /** Why the name hijacks execution, one line, for people reading decisions. */
  reason: string;
}

/** Verdict for a name passed as a separate `env`, per class (see the file comment). */
export const EXEC_ENV_VERDICT: Readonly<Record<ExecEnvClass, ExecEnvVerdict>> = Object.freeze({
  loader: 'deny',
  'shell-startup': 'deny',
  shell: 'approve',
  interpreter: 'approve',
  tool: 'approve',
});

const e = (name: string, cls: ExecEnvClass, reason: string): ExecEnvEntry => ({ name, class: cls, reason });
const p = (name: string, cls: ExecEnvClass, reason: string): ExecEnvEntry => ({
  name,
  prefix: true,
  class: cls,
  reason,
});

export const EXEC_ENV: readonly ExecEnvEntry[] = Object.freeze([
  // The loader and C library (ld.so(8), glibc).
  p(
    'LD_',
    'loader',
    'the dynamic loader preloads, audits or searches libraries from it (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT…)',
  ),
  p('DYLD_', 'loader', 'the macOS dynamic loader inserts or searches libraries from it'),
  e('GCONV_PATH', 'loader', 'glibc loads character-conversion modules (shared objects) from it'),
  e('GLIBC_TUNABLES', 'loader', 'glibc parses it in every program before main (CVE-2023-4911)'),
  // Shell startup files and hooks (bash(1) INVOCATION, PROMPTING, Shell Variables).
  e('BASH_ENV', 'shell-startup', 'bash sources the file it names before running a non-interactive script'),
  e('ENV', 'shell-startup', 'sh, dash, ksh and bash in POSIX mode source the file it names at startup'),
  p('BASH_FUNC_', 'shell-startup', 'bash imports it as a function, which can shadow any command name'),
  e('SHELLOPTS', 'shell-startup', 'bash turns on the options it lists at startup (xtrace, keyword, posix…)'),
  e('BASHOPTS', 'shell-startup', 'bash turns on the shopt options it lists at startup (expand_aliases, extglob…)'),
  e('PS0', 'shell-startup', 'bash expands it (command substitution included) after reading each interactive command'),
  e('PS1', 'shell-startup', 'bash expands it (command substitution included) before every prompt'),
  e('PS2', 'shell-startup', 'bash expands it (command substitution included) for every continuation prompt'),
  e('PS3', 'shell-startup', 'bash expands it for every select prompt'),
  e('PS4', 'shell-startup', 'bash expands it (command substitution included) before every traced command'),
  e('PROMPT_COMMAND', 'shell-startup', 'bash runs it as a command before every prompt'),
  e('ZDOTDIR', 'shell-startup', 'zsh sources its startup files (.zshenv, .zshrc) from this directory'),
  e('INPUTRC', 'shell-startup', 'readline reads key bindings and macros (which type commands) from this file'),
  // The shell's name, path and word resolution (bash(1) Shell Variables).
  e('PATH', 'shell', 'program names resolve to the first match in these directories'),
  e(
    'HOME',
    'shell',
    "~ and every tool's configuration files (~/.gitconfig, ~/.ssh/config, ~/.bashrc) resolve under it",
  ),
  e('IFS', 'shell', 'bash splits expansion results into words on these characters'),
  e('CDPATH', 'shell', 'cd resolves relative directory names against these directories'),
  e('GLOBIGNORE', 'shell', 'bash drops these names from glob results'),
  e('EXECIGNORE', 'shell', 'bash skips these files when it searches PATH'),
  e('FPATH', 'shell', 'zsh and ksh autoload functions (code) from these directories'),
  e('SHELL', 'shell', 'programs that start a shell (script, vim :sh, less !, make) run this program'),
  e('FCEDIT', 'shell', 'fc runs this program as the editor'),
  e('HISTFILE', 'shell', 'an interactive bash writes its history (typed commands) into this file'),
  e('MAILPATH', 'shell', 'an interactive bash polls these files before each prompt and prints their messages'),
  e('BASH_XTRACEFD', 'shell', 'bash writes its trace to this descriptor'),
  e('BASH_LOADABLES_PATH', 'shell', 'enable -f loads builtins (shared objects) from these directories'),
  e('BASH_COMPAT', 'shell', "bash changes how it parses and runs to an older version's rules"),
  e('POSIXLY_CORRECT', 'shell', 'bash and GNU tools switch to POSIX behaviour (bash reads ENV at startup)'),
  e('TEXTDOMAIN', 'shell', 'bash translates $"…" strings from this message catalogue, and expands the translation'),
  e('TEXTDOMAINDIR', 'shell', 'bash reads $"…" translations (which it expands) from this directory'),
  e('LOCPATH', 'shell', 'glibc reads locale data from this directory'),
  e('NLSPATH', 'shell', 'programs read message catalogues from these paths'),
  e('TERMINFO', 'shell', 'curses programs parse terminal descriptions from this directory'),
  e('TERMINFO_DIRS', 'shell', 'curses programs parse terminal descriptions from these directories'),
  e('TERMCAP', 'shell', 'curses programs parse this terminal description'),
  e('XDG_CONFIG_HOME', 'shell', 'git, and many tools, read configuration (which can run programs) from this directory'),
  e('XDG_CONFIG_DIRS', 'shell', 'tools read configuration (which can run programs) from these directories'),
  // Interpreters.
  e('PYTHONSTARTUP', 'interpreter', 'an interactive python runs this file first'),
  e('PYTHONPATH', 'interpreter', "python imports modules from these directories first (code of the caller's choosing)"),
  e('PYTHONHOME', 'interpreter', 'python loads its standard library from this directory'),
  e('PYTHONUSERBASE', 'interpreter', 'python imports user site-packages (and usercustomize) from this directory'),
  e('PYTHONINSPECT', 'interpreter', 'python reads further code from standard input after the script'),
  e('PYTHONBREAKPOINT', 'interpreter', 'python imports and calls this function on breakpoint()'),
  e('PYTHONWARNINGS', 'interpreter', 'python imports the modules its warning categories name'),
  e('NODE_OPTIONS', 'interpreter', 'node takes these options (--require, --import, --loader load code)'),
  e('NODE_PATH', 'interpreter', 'node resolves modules from these directories'),
  e('NODE_REPL_EXTERNAL_MODULE', 'interpreter', 'node loads this module instead of its REPL'),
  e('PERL5OPT', 'interpreter', "perl takes these options (-M loads a module, code of the caller's choosing)"),
  e('PERL5LIB', 'interpreter', 'perl loads modules from these directories first'),
  e('PERLLIB', 'interpreter', 'perl loads modules from these directories first'),
  e('PERL5DB', 'interpreter', 'perl -d runs this code as the debugger'),
  e('RUBYOPT', 'interpreter', 'ruby takes these options (-r loads a library)'),
  e('RUBYLIB', 'interpreter', 'ruby loads libraries from these directories first'),
  e('BUNDLE_GEMFILE', 'interpreter', 'bundler evaluates this Gemfile (ruby code)'),
  p('LUA_INIT', 'interpreter', 'lua runs this code (or the file it names) before anything else'),
  p('LUA_PATH', 'interpreter', 'lua loads modules from these paths'),
  p('LUA_CPATH', 'interpreter', 'lua loads C modules (shared objects) from these paths'),
  e('JAVA_TOOL_OPTIONS', 'interpreter', 'every JVM takes these options (-javaagent loads code)'),
  e('_JAVA_OPTIONS', 'interpreter', 'every JVM takes these options (-javaagent loads code)'),
  e('JDK_JAVA_OPTIONS', 'interpreter', 'the java launcher takes these options (-javaagent loads code)'),
  e('JAVA_OPTS', 'interpreter', 'launch scripts (catalina, gradle, …) pass these options to java'),
  e('CLASSPATH', 'interpreter', 'java loads classes from these paths'),
  e('PHPRC', 'interpreter', 'php reads php.ini (auto_prepend_file runs code) from here'),
  e('PHP_INI_SCAN_DIR', 'interpreter', 'php reads extra ini files (which can run code) from these directories'),
  e('R_PROFILE', 'interpreter', 'R runs this file at startup'),
  e('R_PROFILE_USER', 'interpreter', 'R runs this file at startup'),
  e('R_LIBS', 'interpreter', 'R loads packages from these directories'),
  e('R_LIBS_USER', 'interpreter', 'R loads packages from these directories'),
  e('TCLLIBPATH', 'interpreter', 'tclsh loads packages from these directories'),
  e('GUILE_LOAD_PATH', 'interpreter', 'guile loads modules from these directories'),
  e('ERL_AFLAGS', 'interpreter', 'erl takes these flags (-eval runs code)'),
  e('ERL_FLAGS', 'interpreter', 'erl takes these flags (-eval runs code)'),
  e('ERL_ZFLAGS', 'interpreter', 'erl takes these flags (-eval runs code)'),
  e('ELIXIR_ERL_OPTIONS', 'interpreter', 'elixir passes these options to erl (-eval runs code)'),
  e('DOTNET_STARTUP_HOOKS', 'interpreter', '.NET loads and runs these assemblies before main'),
  p('CORECLR_PROFILER', 'interpreter', '.NET loads this profiler library into the process'),
  p('COR_PROFILER', 'interpreter', '.NET Framework loads this profiler library into the process'),
  e('GOFLAGS', 'interpreter', 'the go command takes these flags (-toolexec runs a program)'),
  e('RUSTC_WRAPPER', 'interpreter', 'cargo runs this program in place of rustc'),
  e('RUSTC_WORKSPACE_WRAPPER', 'interpreter', 'cargo runs this program in place of rustc'),
  e('RUSTC', 'interpreter', 'cargo runs this program as the compiler'),
  e('RUSTFLAGS', 'interpreter', 'rustc takes these flags (-C linker= runs a program)'),
  p('CARGO_BUILD_', 'interpreter', 'cargo build settings (rustc, rustc-wrapper) name programs it runs'),
  p('CARGO_TARGET_', 'interpreter', 'cargo target settings (runner, linker) name programs it runs'),
  e('CC', 'interpreter', 'make, configure and build scripts run this program as the C compiler'),
  e('CXX', 'interpreter', 'make, configure and build scripts run this program as the C++ compiler'),
  e('MAKEFLAGS', 'interpreter', 'make takes these options (--eval, -f add rules that run commands)'),
  e('GNUMAKEFLAGS', 'interpreter', 'GNU make takes these options'),
  e('MFLAGS', 'interpreter', 'make takes these options'),
  e('MAKEFILES', 'interpreter', 'make reads these makefiles (rules run commands) first'),
  // Tools that run programs or read configuration that runs programs.
  p('GIT_CONFIG', 'tool', 'git takes configuration from it (core.pager, core.sshCommand, alias.* run programs)'),
  e('GIT_SSH', 'tool', 'git runs this program instead of ssh'),
  e('GIT_SSH_COMMAND', 'tool', 'git runs this command instead of ssh'),
  e('GIT_EXEC_PATH', 'tool', 'git runs its subcommands from this directory'),
  e('GIT_ASKPASS', 'tool', 'git runs this program to ask for credentials'),
  e('GIT_EXTERNAL_DIFF', 'tool', 'git diff runs this program'),
  e('GIT_PAGER', 'tool', 'git runs this command as its pager'),
  e('GIT_EDITOR', 'tool', 'git runs this command as its editor'),
  e('GIT_SEQUENCE_EDITOR', 'tool', 'git rebase -i runs this command'),
  e('GIT_PROXY_COMMAND', 'tool', 'git runs this command to connect to git:// remotes'),
  e('GIT_TEMPLATE_DIR', 'tool', 'git init and clone copy hooks (programs git runs) from this directory'),
  e('GIT_DIR', 'tool', 'git uses this repository, whose config and hooks run programs'),
  p('GIT_TRACE', 'tool', 'git writes traces to the file it names'),
  e('HGRCPATH', 'tool', 'mercurial reads configuration (hooks run programs) from these paths'),
  e('SSH_ASKPASS', 'tool', 'ssh runs this program to ask for passphrases'),
  e('SSH_ASKPASS_REQUIRE', 'tool', 'makes ssh run SSH_ASKPASS even with a terminal'),
  e('SUDO_ASKPASS', 'tool', 'sudo -A runs this program'),
  e('SUDO_EDITOR', 'tool', 'sudoedit runs this program'),
  e('EDITOR', 'tool', 'git, crontab -e, sudoedit, psql \\e and others run this command'),
  e('VISUAL', 'tool', 'git, crontab -e, less v and others run this command'),
  e('PAGER', 'tool', 'man, git, psql and others run this command as the pager'),
  e('MANPAGER', 'tool', 'man runs this command as the pager'),
  e('MANOPT', 'tool', 'man takes these options (-P runs a pager command)'),
  e('BROWSER', 'tool', 'tools that open URLs run this command'),
  e('LESS', 'tool', 'less takes these options (+!cmd runs a shell command)'),
  e('LESSOPEN', 'tool', 'less runs this input preprocessor command on every file'),
  e('LESSCLOSE', 'tool', 'less runs this command after every file'),
  e('LESSKEY', 'tool', 'less reads key bindings (which can run shell commands) from this file'),
  e('LESSKEYIN', 'tool', 'less reads key bindings (which can run shell commands) from this file'),
  e('SYSTEMD_PAGER', 'tool', 'systemctl and journalctl run this command as the pager'),
  e('SYSTEMD_EDITOR', 'tool', 'systemctl edit runs this command'),
  e('PSQLRC', 'tool', 'psql runs the commands in this file (\\! runs shell commands)'),
  e('PSQL_PAGER', 'tool', 'psql runs this command as the pager'),
  e('PSQL_EDITOR', 'tool', 'psql \\e runs this command'),
  e('MYSQL_HOME', 'tool', 'mysql reads my.cnf (pager= runs a command) from this directory'),
  e('TAR_OPTIONS', 'tool', 'GNU tar takes these options (--to-command, --checkpoint-action=exec run commands)'),
  e('RSYNC_RSH', 'tool', 'rsync runs this command as its remote shell'),
  e('RSYNC_CONNECT_PROG', 'tool', 'rsync runs this command to connect to daemons'),
  e('CVS_RSH', 'tool', 'cvs runs this command as its remote shell'),
  e('SVN_SSH', 'tool', 'svn runs this command instead of ssh'),
  e('WGETRC', 'tool', 'wget reads options (use_askpass runs a program) from this file'),
  e('KUBECONFIG', 'tool', 'kubectl reads clusters and exec credential plugins (programs it runs) from these files'),
  e('DOCKER_CONFIG', 'tool', 'docker reads credential helpers (programs it runs) from this directory'),
  e('AWS_CONFIG_FILE', 'tool', 'the AWS CLI and SDKs run credential_process programs from this file'),
  e('CLOUDSDK_PYTHON', 'tool', 'gcloud runs this interpreter'),
  e('OPENSSL_CONF', 'tool', 'OpenSSL loads engines and providers (shared objects) this file names'),
  e('OPENSSL_ENGINES', 'tool', 'OpenSSL loads engines (shared objects) from this directory'),
  e('OPENSSL_MODULES', 'tool', 'OpenSSL loads providers (shared objects) from this directory'),
  p(
    'npm_config_',
    'tool',
    'npm takes configuration from it (script-shell, node-options, git, userconfig name programs and files)',
  ),
  p(
    'NPM_CONFIG_',
    'tool',
    'npm takes configuration from it (script-shell, node-options, git, userconfig name programs and files)',
  ),
]);

const EXACT = new Map<string, ExecEnvEntry>();
const PREFIXES: ExecEnvEntry[] = [];
for (const x of EXEC_ENV) {
  if (x.prefix) PREFIXES.push(x);
  else EXACT.set(x.name, x);
}
/** First characters of any prefix entry: most names fail this test without a scan. */
const PREFIX_STARTS = new Set(PREFIXES.map((x) => x.name[0]));

/** The list's entry for an environment name (exact names first, then prefixes), if it hijacks execution. */
export function execEnvEntry(name: string): ExecEnvEntry | undefined {
  const hit = EXACT.get(name);
  if (hit) return hit;
  if (!PREFIX_STARTS.has(name[0] ?? '')) return undefined;
  for (const x of PREFIXES) if (name.startsWith(x.name)) return x;
  return undefined;
}

/** Whether `name` hijacks execution (any class). */
export function isExecEnvName(name: string): boolean {
  return execEnvEntry(name) !== undefined;
}

/** The verdict for `name` passed as a separate env, or undefined when it is not on the list. */
export function execEnvVerdict(name: string): ExecEnvVerdict | undefined {
  const x = execEnvEntry(name);
  return x ? EXEC_ENV_VERDICT[x.class] : undefined;
}
