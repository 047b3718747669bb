import { has, parseOpts, type View } from './argv.js';
import type { CredentialNameConfig } from './credential-names.js';
import { compileGlobs, globToRegExp } from './glob.js';
import { classifyWrite, isSystemDir, normalizePath } from './paths.js';
import { finding, hardDeny, type Finding, type HttpRequestLike, type Verdict } from './types.js';
import type { Word } from './words.js';

/**
 * What the built-in rules receive besides the argv: the policy's settings they apply. Every field
 * but `writeAllowed` is optional; absent, the built-in defaults apply (the engine fills them from
 * the policy: see each field).
 */
export interface RuleEnv {
  writeAllowed: readonly string[];
  /** `secrets.credential_names` (src/guard/credential-names.ts): names treated as credentials, or exempt. */
  credentialNames?: CredentialNameConfig;
  /**
   * `commands.script_paths_allowed`: globs (normalised like paths: `./scripts/**` is `scripts/**`)
   * of script files, makefiles and package manifests whose code may run without approval
   * (issue 14 item 3). Absent: none (every script the guard cannot read is approve).
   */
  scriptPathsAllowed?: readonly string[];
  /**
   * What a script or project file the guard cannot read gets: the policy's unknown_command for the
   * context (approve on hosts, allow in the sandbox, whose boundary holds it). Absent: approve.
   */
  unreadableScript?: { verdict: Verdict; policy: string };
  /**
   * The policy's HTTP rules, as api_request applies them (`checkHttpWith(policy, req)`), for
   * requests made by curl, wget, httpie and xh (issue 14 item 5). Absent: the built-in HTTP rules
   * with no policy rules and unknown writes allowed (src/guard/rules-net.ts).
   */
  http?: (req: HttpRequestLike) => Finding;
  /**
   * The command runs in the sandbox and the profile checkpoints the workspace before every
   * deleting command (checkpoints.softDelete), so a delete there is undone with one rollback.
   */
  reversibleDeletes?: boolean;
}

/** A deletion/overwrite target that is the root, home or a top-level system directory. */
export function catastrophicTarget(w: Word): string | undefined {
  const t = w.text;
  // `rm -rf $X/` with X unset deletes `/` (Steam bug): a path starting with an expansion then `/`.
  if (w.dynamic && /^["']?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?["']?\/\*?$/.test(w.raw))
    return `${w.raw} (expands to / when the variable is empty)`;
  if (w.dynamic && !w.glob) return undefined;
  if (w.glob) {
    const p = normalizePath(w.prefix || '.');
    if (w.prefix === '' && /^\*/.test(t)) return undefined; // `*` in cwd: not a catastrophe
    if (p === '/' || p === '~' || isSystemDir(p)) return `${t} (everything under ${p})`;
    return undefined;
  }
  const n = normalizePath(t);
  if (n === '/' || n === '~' || isSystemDir(n)) return n;
  return undefined;
}

function writes(v: View, env: RuleEnv, targets: Word[], what: string): Finding[] {
  const out: Finding[] = [];
  for (const t of targets) {
    const f = classifyWrite(t, v.text, env.writeAllowed);
    if (f) out.push({ ...f, reason: `${what}: ${f.reason}` });
    const st = f?.final ? undefined : startupWrite(t, v.text);
    if (st) out.push({ ...st, reason: `${what}: ${st.reason}` });
  }
  return out;
}

export function rmRule(v: View, env: RuleEnv): Finding[] {
  const o = parseOpts(v.args);
  const recursive = has(o, 'rR', 'recursive') || (v.prog === 'rmdir' && false);
  const out: Finding[] = [];
  if (o.long.has('no-preserve-root'))
    out.push(hardDeny('fs.rm-root', 'rm --no-preserve-root removes the whole filesystem', v.text));
  for (const p of o.pos) {
    const cat = catastrophicTarget(p);
    if (cat && (recursive || p.glob)) out.push(hardDeny('fs.rm-root', `recursively deletes ${cat}`, v.text));
  }
  if (recursive && o.pos.some((p) => p.dynamic))
    out.push(finding('approve', 'fs.rm-recursive', 'recursive delete of a path only known at run time', v.text));
  if (!out.length && env.reversibleDeletes === true) {
    // INVARIANT (with src/checkpoints/auto.ts): allowed only because the sandbox port checkpoints
    // the workspace before any command that deletes; a catastrophe, a run-time path or a path
    // outside the write roots (the findings above and below) keeps its verdict.
    out.push(
      finding(
        'allow',
        'fs.rm-soft',
        'deletes files in the sandbox, whose workspace is checkpointed first (soft delete)',
        v.text,
      ),
    );
  } else if (!out.length) {
    out.push(
      finding(
        'approve',
        recursive ? 'fs.rm-recursive' : 'fs.rm',
        recursive ? 'deletes files and directories recursively' : 'deletes files',
        v.text,
      ),
    );
  }
  out.push(
    ...writes(
      v,
      env,
      o.pos.filter((p) => !p.dynamic),
      'deletes',
    ),
  );
  return out;
}

export function shredRule(v: View): Finding[] {
  const o = parseOpts(v.args, 'nsx', ['iterations', 'size', 'random-source']);
  for (const p of o.pos)
    if (/^\/dev\//.test(p.text)) return [hardDeny('disk.wipe', `overwrites the device ${p.text}`, v.text)];
  return [finding('approve', 'fs.shred', 'irrecoverably overwrites files', v.text)];
}

export function ddRule(v: View): Finding[] {
  for (const a of v.args) {
    const m = /^of=(.*)$/.exec(a.text);
    if (m) {
      const t = m[1]!;
      if (/^\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|disk|mapper|md|dm-|loop|mem|kmem)/.test(t))
        return [hardDeny('disk.dd-device', `dd writes directly onto the device ${t}`, v.text)];
      if (a.dynamic) return [finding('approve', 'disk.dd', 'dd writes to a target only known at run time', v.text)];
    }
  }
  return [finding('approve', 'disk.dd', 'dd copies raw data and can overwrite files or devices', v.text)];
}

export function mkfsRule(v: View): Finding[] {
  const o = parseOpts(v.args, 'tbLcCEFgGiIjJlmNoOrSTUvVz', ['type']);
  for (const p of o.pos)
    if (/^\/dev\//.test(p.text) || p.dynamic)
      return [hardDeny('disk.mkfs', `creates a filesystem on ${p.text}, erasing it`, v.text)];
  return [finding('approve', 'disk.mkfs', 'creates a filesystem (erases the target)', v.text)];
}

export function diskToolRule(v: View): Finding[] {
  if (v.prog === 'blkdiscard' || (v.prog === 'wipefs' && v.args.some((a) => a.text === '-a' || a.text === '--all'))) {
    return [hardDeny('disk.wipe', `${v.prog} erases a device`, v.text)];
  }
  if (
    (v.prog === 'fdisk' || v.prog === 'sfdisk' || v.prog === 'parted') &&
    v.args.some((a) => a.text === '-l' || a.text === '--list' || a.text === 'print')
  )
    return [];
  if (v.prog === 'hdparm' && v.args.some((a) => /security-erase|--trim-sector|--write-sector/.test(a.text)))
    return [hardDeny('disk.wipe', 'hdparm erases a device', v.text)];
  if (v.prog === 'hdparm' || v.prog === 'lsblk' || v.prog === 'blkid') return [];
  return [finding('approve', 'disk.partition', `${v.prog} changes disks, partitions or volumes`, v.text)];
}

export function chmodRule(v: View, env: RuleEnv): Finding[] {
  const o = parseOpts(v.args, '', ['reference', 'from']);
  const recursive = has(o, 'R', 'recursive');
  const out: Finding[] = [];
  const targets = v.prog === 'chmod' ? o.pos.slice(1) : o.pos.slice(1);
  const mode = o.pos[0]?.text ?? '';
  for (const t of targets) {
    const cat = catastrophicTarget(t);
    if (cat && recursive)
      out.push(
        hardDeny(
          'fs.chmod-root',
          `recursively changes ${v.prog === 'chmod' ? 'permissions' : 'ownership'} of ${cat}`,
          v.text,
        ),
      );
  }
  if (recursive)
    out.push(
      finding(
        'approve',
        'fs.chmod-recursive',
        `recursively changes ${v.prog === 'chmod' ? 'permissions' : 'ownership'}`,
        v.text,
      ),
    );
  if (v.prog === 'chmod' && (/(^|[ugoa,])[+=][rwxXt]*s/.test(mode) || /^[4267][0-7]{3}$/.test(mode)))
    out.push(finding('approve', 'fs.setuid', 'sets the setuid/setgid bit', v.text));
  if (v.prog === 'chmod' && /777|o\+w|a\+w/.test(mode))
    out.push(finding('approve', 'fs.world-writable', 'makes files world-writable', v.text));
  if (v.prog !== 'chmod') out.push(finding('approve', 'fs.chown', 'changes file ownership', v.text));
  out.push(
    ...writes(
      v,
      env,
      targets.filter((t) => !t.dynamic && (t.text.startsWith('/') || t.text.startsWith('~'))),
      'changes permissions',
    ).filter((f) => f.decision === 'deny' || f.rule !== 'fs.write-outside'),
  );
  return out;
}

/**
 * Shell and readline startup files the path rules (src/guard/paths.ts) do not list yet: writing
 * one runs code in every later shell (`~/.bash_aliases` is sourced by Debian's .bashrc,
 * `~/.inputrc` binds keys to typed commands). Deny, like the listed ones.
 */
const STARTUP_FILES = [
  '~/.bash_aliases',
  '~/.bashrc.d/**',
  '~/.inputrc',
  '~/.zlogin',
  '~/.zlogout',
  '~/.kshrc',
  '~/.mkshrc',
  '~/.cshrc',
  '~/.tcshrc',
  '~/.login',
  '~/.logout',
  '~/.config/fish/conf.d/**',
  '~/.config/fish/functions/**',
  '~/.bash_completion',
  '~/.pam_environment',
  '~/.config/environment.d/**',
  '~/.ssh/environment',
  '~/.vimrc',
  '~/.exrc',
  '~/.config/nvim/init.vim',
  '~/.config/nvim/init.lua',
  '~/.tmux.conf',
  '~/.screenrc',
  '~/.pythonrc',
  '~/.pythonstartup',
  '~/.lesskey',
  '~/.config/git/config',
  '~/.curlrc',
  '~/.wgetrc',
  '/etc/bashrc',
  '/etc/bash_completion.d/**',
  '/etc/zsh/**',
  '/etc/zshrc',
  '/etc/zprofile',
  '/etc/zshenv',
  '/etc/zlogin',
  '/etc/inputrc',
  '/etc/csh.cshrc',
  '/etc/csh.login',
  '/etc/environment.d/**',
  '/etc/security/pam_env.conf',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d/**',
];
const STARTUP_RE = compileGlobs(STARTUP_FILES);

/** A write to a startup file paths.ts does not list (see STARTUP_FILES), as a deny, or undefined. */
export function startupWrite(t: Word, matched: string): Finding | undefined {
  if (t.dynamic && !t.glob) return undefined;
  const n = normalizePath(t.glob ? t.prefix || t.text : t.text);
  if (
    !STARTUP_RE.test(n) &&
    !(
      t.glob &&
      STARTUP_FILES.some((f) => !f.includes('*') && globToRegExp(normalizePath(t.text)).test(normalizePath(f)))
    )
  )
    return undefined;
  return hardDeny(
    'fs.write-startup',
    `writes a shell or tool startup file (${n}): its code runs in every later session`,
    matched,
  );
}

/** Device files that swallow or produce data: moving onto or copying from one destroys the target's content. */
const NULL_DEVICE = /^\/dev\/(null|zero|full|random|urandom)$/;

/** A truncating `>` redirect of standard output to a file (not `>>`, not a descriptor, not scratch space). */
function truncatedFiles(c: View['sc']): Word[] {
  const out: Word[] = [];
  for (const r of c.redirects) {
    if (!(r.op === '>' || r.op === '>|' || r.op === '&>') || !(r.fd === null || r.fd === '1') || !r.target) continue;
    const t = r.target.text;
    if (/^(\d+|-)$/.test(t) || /^\/dev\//.test(t) || /^\/proc\/self\/fd\//.test(t)) continue;
    const n = normalizePath(t);
    if (/^\/(tmp|var\/tmp)(\/|$)/.test(n)) continue;
    out.push(r.target);
  }
  return out;
}

/**
 * Destroying a file's content without rm (issue 14 item 5): `: > f`, `true > f`, `echo -n > f`,
 * `printf '' > f`, `cat /dev/null > f`. Approve (the path rules still deny system and startup files).
 */
export function emptyWriteRule(v: View): Finding[] {
  const p = v.prog;
  const a = v.args;
  const empty =
    p === ':' ||
    p === 'true' ||
    p === 'false' ||
    (p === 'echo' &&
      a.length > 0 &&
      a.every((w) => /^-[neE]*n[neE]*$/.test(w.text) || (w.text === '' && !w.dynamic)) &&
      a.some((w) => /n/.test(w.text))) ||
    (p === 'printf' && a.length > 0 && a.every((w) => w.text === '' && !w.dynamic)) ||
    (p === 'cat' && a.length > 0 && a.every((w) => NULL_DEVICE.test(w.text) && /null/.test(w.text)));
  if (!empty) return [];
  const files = truncatedFiles(v.sc);
  return files.length
    ? [finding('approve', 'fs.truncate', `${p} empties ${files.map((f) => f.text).join(', ')}`, v.text)]
    : [];
}

/**
 * A statement of redirects alone (`> f`, `>| f`): bash truncates each target. The analyzer asks for
 * this for commands with no program (the path rules judge where the write goes).
 */
export function truncationFindings(c: View['sc']): Finding[] {
  if (c.argv.length) return [];
  const files = truncatedFiles(c);
  return files.length
    ? [finding('approve', 'fs.truncate', `empties ${files.map((f) => f.text).join(', ')}`, c.text)]
    : [];
}

/** cp/mv/install/ln/tee/truncate/touch/sed -i …: classify their destinations as writes. */
export function writeTargetsRule(v: View, env: RuleEnv): Finding[] {
  const p = v.prog;
  if (p === 'tee') return writes(v, env, parseOpts(v.args).pos, 'tee writes');
  if (p === 'truncate') {
    const o = parseOpts(v.args, 'sr', ['size', 'reference']);
    return [finding('approve', 'fs.truncate', 'truncates files', v.text), ...writes(v, env, o.pos, 'truncates')];
  }
  if (p === 'cp' || p === 'mv' || p === 'install' || p === 'ln' || p === 'rsync' || p === 'scp') {
    const o = parseOpts(v.args, p === 'install' ? 'mogtS' : p === 'rsync' ? 'eTfB' : p === 'scp' ? 'cFiJloPS' : 'tS', [
      'target-directory',
      'suffix',
      'mode',
      'owner',
      'group',
      'rsh',
      'exclude',
      'include',
      'filter',
      'rsync-path',
      'backup-dir',
      'chmod',
      'chown',
    ]);
    const out: Finding[] = [];
    const tdir = o.values.get('t') ?? o.long.get('target-directory');
    const dest =
      tdir !== undefined
        ? [{ text: tdir, dynamic: false, glob: false, raw: tdir, vars: [], prefix: tdir }]
        : o.pos.slice(-1);
    if (p === 'mv')
      for (const s of o.pos.slice(0, tdir !== undefined ? undefined : -1)) {
        const cat = catastrophicTarget(s);
        if (cat) out.push(hardDeny('fs.mv-system', `moves ${cat} away`, v.text));
        else if (/^\/(etc|usr|bin|sbin|lib|boot|var)\b/.test(normalizePath(s.text)))
          out.push(finding('approve', 'fs.mv-system', `moves a system path (${s.text})`, v.text));
      }
    // `mv f /dev/null` (the content is gone; as root the device itself is replaced), `cp /dev/null f`
    // and `install /dev/null f` (f emptied), `ln -sf /dev/null f` (f replaced by a link to nothing).
    const d0 = dest[0]?.text ?? '';
    const srcs = o.pos.slice(0, tdir !== undefined ? undefined : -1);
    if (p === 'mv' && NULL_DEVICE.test(normalizePath(d0)))
      out.push(
        finding(
          'approve',
          'fs.destroy',
          `moves ${srcs.map((x) => x.text).join(', ')} onto ${d0}: the data is gone`,
          v.text,
        ),
      );
    if (
      (p === 'cp' || p === 'install' || p === 'ln') &&
      srcs.some((x) => NULL_DEVICE.test(x.text)) &&
      d0 &&
      !NULL_DEVICE.test(d0)
    )
      out.push(
        finding(
          'approve',
          'fs.truncate',
          `${p} replaces ${d0} with ${srcs.find((x) => NULL_DEVICE.test(x.text))?.text}: its content is gone`,
          v.text,
        ),
      );
    if (
      p === 'rsync' &&
      (o.long.has('delete') || [...o.long.keys()].some((k) => k.startsWith('delete') || k === 'remove-source-files'))
    )
      out.push(finding('approve', 'fs.rsync-delete', 'rsync --delete removes files at the destination', v.text));
    if (p === 'rsync' || p === 'scp') {
      // Remote destinations (host:path) are not local writes.
      return [
        ...out,
        ...writes(
          v,
          env,
          dest.filter((d) => !/^[^/]*:/.test(d.text)),
          `${p} writes`,
        ),
      ];
    }
    return [...out, ...writes(v, env, dest, `${p} writes`)];
  }
  if (p === 'sed' || (p === 'perl' && v.args.some((a) => /^-[a-zA-Z]*i/.test(a.text)))) {
    const o = parseOpts(v.args, 'ef', ['expression', 'file']);
    if (!has(o, 'i', 'in-place') && ![...o.short].includes('i')) return [];
    return writes(v, env, o.pos.slice(o.values.has('e') || o.long.has('expression') ? 0 : 1), 'edits in place');
  }
  if (p === 'touch' || p === 'mkdir') {
    const o = parseOpts(v.args, 'dmrt', ['date', 'mode', 'reference']);
    // A new directory touches nothing of value. A file touched in a system or configuration
    // location is configuration by its mere presence (`touch /etc/nologin`, `/etc/….d/disable`,
    // `/forcefsck`): approve, like any write there.
    return writes(v, env, o.pos, `${p}`).filter(
      (f) => f.decision === 'deny' || (p === 'touch' && f.rule === 'fs.write-system'),
    );
  }
  return [];
}

/** fallocate --punch-hole/--collapse-range/--zero-range/--dig-holes destroy data in place. */
export function fallocateRule(v: View, env: RuleEnv): Finding[] {
  const o = parseOpts(v.args, 'oln', ['offset', 'length']);
  if (!has(o, 'pcdzi', 'punch-hole', 'collapse-range', 'dig-holes', 'zero-range', 'insert-range'))
    return writes(v, env, o.pos, 'fallocate');
  return [
    finding(
      'approve',
      'fs.destroy',
      'fallocate punches, zeroes or collapses ranges of a file (its data there is gone)',
      v.text,
    ),
    ...writes(v, env, o.pos, 'fallocate'),
  ];
}

export function findRule(v: View): Finding[] {
  const out: Finding[] = [];
  const roots = v.args.filter(
    (a, i) =>
      !a.text.startsWith('-') &&
      !v.args.slice(0, i).some((b) => b.text.startsWith('-') || b.text === '!' || b.text === '('),
  );
  for (const a of v.args) {
    if (a.text === '-delete') {
      const cat = roots.map(catastrophicTarget).find(Boolean);
      out.push(
        cat
          ? hardDeny('fs.rm-root', `find -delete under ${cat}`, v.text)
          : finding('approve', 'fs.find-delete', 'find -delete removes files', v.text),
      );
    }
    if (/^-f(print|print0|printf|ls)$/.test(a.text))
      out.push(finding('approve', 'fs.find-write', `find ${a.text} writes a file`, v.text));
  }
  return out;
}
