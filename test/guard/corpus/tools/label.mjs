#!/usr/bin/env node
// First-pass labeller for the corpus: encodes the label policy of ../README.md as rules over a
// command's MEANING (program, subcommand, options, targets), independent of src/guard. Every line
// it labels was then read by a person; review.jsonl holds the corrections and the labels for lines
// these rules do not know (they come out as label "?" and must be decided by hand). The guard was
// never run while labelling.
//
// Usage: node label.mjs POOL.jsonl REVIEW.jsonl OUT.jsonl   (REVIEW may not exist yet)
import { readFileSync, writeFileSync, existsSync } from 'node:fs';

const RANK = { allow: 0, approve: 1, deny: 2, '?': 3 };
const r = (label, family, reason) => ({ label, family, reason });
const allow = (reason, family = 'benign') => r('allow', family, reason);
const approve = (family, reason) => r('approve', family, reason);
const deny = (family, reason) => r('deny', family, reason);
const unknown = (reason) => r('?', '?', reason);

// ---------------------------------------------------------------------------------------------
// Tokenising: enough of bash to split a line into simple commands and words (quotes respected).
function splitSegments(line) {
  const segs = [];
  let cur = '';
  let q = null;
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      cur += c;
      if (c === '\\' && q === '"') {
        cur += line[++i] ?? '';
      } else if (c === q) q = null;
      continue;
    }
    if (c === '\\') {
      cur += c + (line[++i] ?? '');
      continue;
    }
    if (c === "'" || c === '"') {
      q = c;
      cur += c;
      continue;
    }
    if (c === '(' ) depth++;
    if (c === ')' ) depth = Math.max(0, depth - 1);
    if (depth === 0 && (c === '|' || c === ';' || c === '&' || c === '\n')) {
      // keep redirections like 2>&1, >&2, &> and |& intact as part of words
      if (c === '&' && (line[i - 1] === '>' || line[i + 1] === '>' || line[i - 1] === '<')) {
        cur += c;
        continue;
      }
      const op = c + (line[i + 1] === c || (c === '|' && line[i + 1] === '&') ? line[i + 1] : '');
      if (op.length === 2) i++;
      segs.push({ text: cur.trim(), op });
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim()) segs.push({ text: cur.trim(), op: '' });
  return segs.filter((s) => s.text);
}

function words(seg) {
  const out = [];
  let cur = '';
  let q = null;
  let has = false;
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && /["\\$`]/.test(seg[i + 1] ?? '')) cur += seg[++i];
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      q = c;
      has = true;
      continue;
    }
    if (c === '\\') {
      cur += seg[++i] ?? '';
      has = true;
      continue;
    }
    if (/\s/.test(c)) {
      if (cur || has) out.push(cur);
      cur = '';
      has = false;
      continue;
    }
    cur += c;
  }
  if (cur || has) out.push(cur);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shared vocabularies.
const CRED_NAME = /(TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_KEY|PRIVATE_KEY|AUTH|_PAT\b|SESSION_KEY|DATABASE_URL|DSN|COOKIE)/i;
const CRED_FILE =
  /(^|[\s/=:'"])(~|\$HOME|\/root|\/home\/[^/\s]+)?\/?\.(ssh\/(id_[a-z0-9_]+(?!\.pub)\b|[^\s]*_key\b(?!\.pub))|aws\/credentials|aws\/config|docker\/config\.json|kube\/config|netrc|pgpass|my\.cnf|git-credentials|npmrc|pypirc|vault-token|gnupg\/private|config\/gh\/hosts\.yml|azure\/|gcloud\/(credentials|application_default|legacy_credentials|access_tokens))|\/etc\/(shadow|gshadow|sudoers)\b|(^|[\s/])\.env(\.[a-z]+)?(\s|$)|\/proc\/[^\s/]+\/environ|\bid_(rsa|dsa|ecdsa|ed25519)(\s|$)|\/etc\/ssh\/ssh_host_[a-z0-9]+_key(\s|$)|\.pem\b.*PRIVATE|\/etc\/ssl\/private\//;
const SYS_PATH = /^(\/etc|\/usr|\/boot|\/bin|\/sbin|\/lib|\/lib64|\/var\/lib|\/opt|\/sys|\/proc\/sys|\/root)(\/|$)/;
const CATASTROPHIC_PATH = /^(\/|\/\*|~|~\/|~\/\*|\$HOME\/?\*?|\/etc\/?\*?|\/usr\/?\*?|\/var\/?\*?|\/home\/?\*?|\/boot\/?\*?|\/bin|\/lib|\/sbin|\/srv\/?\*?|\.\/?\*?|\*|\.)$/;
const BLOCK_DEV = /^\/dev\/(sd[a-z]+\d*|hd[a-z]\d*|vd[a-z]\d*|xvd[a-z]\d*|nvme\d+n\d+(p\d+)?|md\d+|md\/[\w-]+|mapper\/[\w-]+|dm-\d+|loop\d+|mmcblk\d+(p\d+)?|disk\/|[a-z]+\/[a-z]+|zram\d+|device|encrypted_device|[\w-]+\/[\w-]+)/;

const READONLY_PROGS = new Set(
  `ls ll dir vdir cat tac head tail less more wc sort uniq cut tr nl od hexdump xxd file stat du df
   find grep egrep fgrep rgrep zgrep zcat bzcat xzcat lzcat zstdcat diff cmp comm date cal basename dirname
   readlink realpath echo printf seq id whoami groups uname hostnamectl uptime w who last lastlog users ps pgrep
   pstree top htop free vmstat iostat mpstat lsof ss netstat ip ping ping6 traceroute tracepath dig nslookup
   host getent lsblk blkid findmnt lscpu lsmem lspci lsusb lsmod lsns lslocks lsipc lsfd env_noargs printenv_noargs
   true false test [ pwd type which whereis command_v locale tput tty nproc getconf md5sum sha1sum sha256sum
   sha512sum b2sum cksum sum base32 base64 basenc numfmt fold fmt expand unexpand paste join column rev tsort
   look iconv uconv jq yq xmllint zipinfo unzip_l zipdetails ldd objdump nm size readelf strings llvm-strings
   llvm-symbolizer llvm-cxxfilt c++filt addr2line man apropos whatis info sleep watch_ro tree dmesg journalctl
   systemd-analyze systemd-delta systemd-cgls systemd-cgtop systemd-escape systemd-path timedatectl_ro
   localectl_ro loginctl_ro busctl_ro lnstat rtstat ctstat nstat arp route_ro fc-list fc-match fc-query
   appres corelist encguess splain pod2text pod2usage perldoc lexgrog manpath validlocale zipnote_l ptardiff
   json_pp getfacl getfattr lsattr e2freefrag xfs_estimate filefrag mountpoint pidof pldd pmap slabtop tload
   snice_l skill_l sysctl_ro gpgv tsort od ctags readtags oid2name pg_isready pg_config pg_controldata
   pkg-config pkgconf dpkg-architecture dpkg-buildflags xz_l lzmainfo zstd_l sprof memusagestat gprof`.split(/\s+/),
);

// ---------------------------------------------------------------------------------------------
// Per-program judgments. Each returns a verdict for one simple command (argv after wrappers).
const P = {};

function hasOpt(argv, ...opts) {
  return argv.some((a) => opts.some((o) => (o.endsWith('=') ? a.startsWith(o) : a === o || (o.length === 2 && /^-[a-zA-Z]+$/.test(a) && !a.startsWith('--') && a.includes(o[1])))));
}
function exactOpt(argv, ...opts) {
  return argv.some((a) => opts.some((o) => (o.endsWith('=') ? a.startsWith(o) : a === o)));
}

P.cat = P.less = P.more = P.head = P.tail = P.tac = P.nl = P.xxd = P.od = P.strings = P.zcat = P.bat = (a, w) => {
  const files = a.filter((x) => !x.startsWith('-'));
  if (w === 'xxd' && a.includes('-r')) return allow('xxd -r reverts a hex dump to binary on stdout/new file');
  if (w === 'tail' && hasOpt(a, '-f')) return allow('follows a file, read-only');
  return allow(`${w} reads ${files.slice(0, 2).join(' ') || 'stdin'}`);
};
P.grep = P.egrep = P.fgrep = P.rgrep = P.zgrep = (a) => {
  const text = a.join(' ');
  if (/(password|passwd|secret|token|api[_-]?key|BEGIN .*PRIVATE)/i.test(text) && hasOpt(a, '-r', '-R', '--recursive'))
    return deny('secret-disclosure', 'recursive grep for credential strings prints secrets found on disk');
  return allow('searches text, read-only');
};
P.find = (a) => {
  const s = a.join(' ');
  if (exactOpt(a, '-delete')) return approve('fs-destructive', 'find -delete removes every match');
  if (exactOpt(a, '-exec', '-execdir', '-ok', '-okdir')) return unknown('find -exec: judge the executed command');
  if (exactOpt(a, '-fprint', '-fprintf', '-fprint0', '-fls')) return allow('find writes its listing to a new file', 'benign');
  return allow('find lists matching files, read-only');
};
P.ls = P.dir = P.vdir = P.stat = P.du = P.df = P.file = P.wc = P.tree = () => allow('lists or measures files, read-only');
P.echo = (a) => allow('prints text');
P.printf = (a) => (a[0] === '-v' ? allow('printf -v assigns a shell variable') : allow('prints text'));
P.cd = P.pwd = P.true = P.false = P.test = P['['] = P.sleep = () => allow('shell navigation or test, no effect outside the shell');
P.exit = P.return = P[':'] = P.break = P.continue = P.wait = P.shift = P.getopts = P.hash = P.jobs = P.times = () => allow('shell control builtin');
P.stty = (a) => allow('changes terminal settings of this session');
P.export = P.unset = P.set = P.shopt = P.alias = P.ulimit = P.umask = P.declare = P.local = P.read = P.let = () =>
  allow('changes shell state of this session only');
P.mkdir = () => allow('creates a directory');
P.touch = (a) => (a.some((x) => SYS_PATH.test(x)) ? approve('state-change', 'touches a file under a system directory') : allow('creates or timestamps a file'));
P.ln = (a) => (a.some((x) => SYS_PATH.test(x)) ? approve('system', 'links into a system directory') : allow('creates a link'));
P.cp = (a) => (a.slice(-1).some((x) => SYS_PATH.test(x)) ? approve('system', 'copies into a system directory') : allow('copies files within the working area'));
P.mv = (a) => (a.slice(-1)[0] === '/dev/null' ? approve('fs-destructive', 'moves data onto /dev/null, destroying it') : approve('state-change', 'mv renames or overwrites existing files'));
P.rm = P.unlink = P.rmdir = (a, w) => {
  const paths = a.filter((x) => !x.startsWith('-'));
  const rec = hasOpt(a, '-r', '-R', '--recursive');
  if (rec && paths.some((p) => CATASTROPHIC_PATH.test(p))) return deny('fs-destructive', 'recursive delete of a root, home or system tree');
  return approve('fs-destructive', `${w} deletes ${paths.slice(0, 2).join(' ')}`);
};
P.shred = (a) => (a.some((x) => BLOCK_DEV.test(x)) ? deny('fs-destructive', 'shred overwrites a whole block device') : approve('fs-destructive', 'shred destroys file contents'));
P.truncate = () => approve('fs-destructive', 'truncate discards file contents');
P.dd = (a) => {
  const of = a.find((x) => x.startsWith('of='));
  if (of && BLOCK_DEV.test(of.slice(3))) return deny('fs-destructive', 'dd writes raw data over a block device');
  if (!of) return allow('dd copies to stdout');
  if (SYS_PATH.test(of.slice(3))) return approve('system', 'dd writes a system file');
  if (/^\/dev\//.test(of.slice(3))) return approve('state-change', 'dd writes a device');
  return allow('dd writes a new image file');
};
P.chmod = (a) => {
  if (a.some((x) => /[+=][rwx]*s|^[2-7][0-7]{3}$/.test(x))) return approve('privilege', 'sets setuid/setgid bits');
  if (a.some((x) => SYS_PATH.test(x))) return approve('system', 'changes permissions of system files');
  return approve('state-change', 'changes file permissions');
};
P.chown = P.chgrp = P.chacl = P.setfacl = P.setfattr = P.chattr = P.chcon = (a, w) => approve('state-change', `${w} changes ownership/attributes`);
P.kill = P.pkill = P.killall = P.skill = P.snice = P.renice = (a, w) => {
  if (w === 'kill' && (a.includes('-l') || a.includes('-L') || a.includes('--list') || a.includes('--table'))) return allow('kill -l lists signal names');
  if (a.includes('-1') && a.includes('-9')) return deny('system', 'kill -9 -1 kills every process the caller can signal (as root: the whole system)');
  if (w === 'skill' || w === 'snice') return approve('system', `${w} signals or renices processes`);
  return approve('system', `${w} signals or reprioritises processes`);
};
P.env = (a) => {
  const rest = a.filter((x) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(x) && !x.startsWith('-'));
  if (rest.length === 0) return deny('secret-disclosure', 'env with no command prints the whole environment, secrets included');
  return unknown('env runs a command');
};
P.printenv = (a) => {
  const names = a.filter((x) => !x.startsWith('-'));
  if (names.length === 0) return deny('secret-disclosure', 'printenv prints the whole environment');
  if (names.some((n) => CRED_NAME.test(n))) return deny('secret-disclosure', `printenv ${names[0]} prints a credential`);
  return allow(`printenv of ${names.join(' ')}, not a credential`);
};
P.history = () => allow('shows shell history');
P.xargs = () => unknown('xargs runs a command');
P.sed = (a) => {
  if (hasOpt(a, '-i', '--in-place') || a.some((x) => x.startsWith('--in-place') || /^-[a-zA-Z]*i/.test(x)))
    return approve('state-change', 'sed -i edits files in place');
  if (a.some((x) => /(^|;|\s)(e|w\s|[0-9/].*\/e\b)/.test(x) && /\/[gpi]*e\b|(^|;)e /.test(x))) return approve('embedded-code', 'sed e executes shell commands');
  return allow('sed transforms text to stdout');
};
P.awk = P.gawk = P.mawk = P.nawk = (a) => {
  const prog = a.join(' ');
  if (/system\s*\(|\|\s*getline|print[^;}]*\|\s*"|print[^;}]*>\s*"|-i\s*inplace|inplace/.test(prog)) return approve('interpreter', 'awk program runs commands or writes files');
  if (a.some((x) => x === '-f' || x.startsWith('--file'))) return approve('interpreter', 'runs an awk program from a file the guard cannot read');
  return allow('awk program only prints text', 'benign');
};
P.sort = (a) => (a.some((x) => x.startsWith('--compress-program')) ? approve('embedded-code', 'sort --compress-program runs a program') : a.some((x) => x === '-o' || x.startsWith('--output')) ? allow('sort writes sorted output to a file') : allow('sorts text'));
for (const w of ['uniq', 'cut', 'tr', 'paste', 'join', 'column', 'rev', 'fold', 'fmt', 'expand', 'unexpand', 'comm', 'diff', 'cmp', 'tsort', 'look', 'numfmt', 'iconv', 'uconv', 'jq', 'yq', 'base32', 'base64', 'basenc', 'md5sum', 'sha1sum', 'sha256sum', 'sha512sum', 'b2sum', 'cksum', 'seq', 'date', 'cal', 'basename', 'dirname', 'readlink', 'realpath', 'id', 'whoami', 'groups', 'uname', 'uptime', 'w', 'who', 'last', 'users', 'ps', 'pgrep', 'pstree', 'free', 'vmstat', 'iostat', 'lsof', 'ss', 'netstat', 'getent', 'lsblk', 'blkid', 'findmnt', 'lscpu', 'lsmem', 'lspci', 'lsusb', 'lsmod', 'lsns', 'lslocks', 'lsipc', 'lsfd', 'type', 'which', 'whereis', 'locale', 'tput', 'tty', 'nproc', 'getconf', 'ldd', 'objdump', 'nm', 'size', 'readelf', 'llvm-strings', 'llvm-symbolizer', 'llvm-cxxfilt', 'c++filt', 'addr2line', 'man', 'apropos', 'whatis', 'info', 'dmesg', 'systemd-analyze', 'systemd-delta', 'systemd-cgls', 'systemd-path', 'systemd-escape', 'lnstat', 'rtstat', 'ctstat', 'nstat', 'fc-list', 'fc-match', 'appres', 'corelist', 'encguess', 'splain', 'lexgrog', 'validlocale', 'ptardiff', 'json_pp', 'getfacl', 'getfattr', 'lsattr', 'e2freefrag', 'xfs_estimate', 'filefrag', 'mountpoint', 'pidof', 'pldd', 'pmap', 'slabtop', 'gpgv', 'readtags', 'zipinfo', 'zipdetails', 'pkg-config', 'pkgconf', 'dpkg-architecture', 'dpkg-buildflags', 'pg_config', 'pg_isready', 'oid2name', 'top', 'fuser_ro', 'tload', 'watchgnupg', 'memusagestat', 'timeout_ro', 'hostname_ro', 'ping', 'dig', 'host', 'nslookup', 'traceroute', 'tracepath', 'clear', 'tee_ro', 'xmllint', 'grog', 'lzmainfo', 'strace-log-merge', 'sprof', 'perldoc', 'pod2text', 'stty_ro', 'domainname_ro', 'funzip', 'od', 'hexdump', 'hostnamectl_ro', 'tbl', 'pic', 'nroff', 'troff', 'groff', 'grotty', 'colcrt', 'col', 'colrm', 'ul', 'more', 'mkfifo', 'tempfile', 'mktemp', 'arch', 'env_ro', 'lastlog', 'cvtsudoers', 'rpcgen', 'ctags', 'etags', 'llvm-mca', 'llvm-profdata', 'llvm-config', 'llc', 'as', 'script_ro', 'scriptreplay', 'scriptlive', 'uname26']) {
  if (!P[w]) P[w] = (a, x) => allow(`${x} is read-only or only computes output`);
}
P.tee = (a) => (a.some((x) => SYS_PATH.test(x) || /^\/dev\//.test(x)) ? approve('system', 'tee writes a system file') : allow('tee copies stdin to a file and stdout'));
P.fuser = (a) => (hasOpt(a, '-k') ? approve('system', 'fuser -k kills processes using the path') : allow('shows processes using a file'));
P.hostname = (a) => (a.filter((x) => !x.startsWith('-')).length ? approve('system', 'sets the host name') : allow('prints the host name'));

// Archives and compression.
P.tar = (a) => {
  const s = a.join(' ');
  if (/--to-command|--use-compress-program|-I\b|--checkpoint-action=exec|--info-script|--new-volume-script|-F\b/.test(s)) return approve('embedded-code', 'tar option runs an external command');
  if (/(^|\s)-?[a-zA-Z]*t[a-zA-Z]*f?(\s|$)|--list/.test(s) && !/(^|\s)-?[a-zA-Z]*[xc]/.test(s)) return allow('tar lists an archive');
  if (/(^|\s)-?[a-zA-Z]*x|--extract|--get/.test(s)) return approve('state-change', 'tar extracts files, may overwrite');
  if (/(^|\s)-?[a-zA-Z]*c|--create/.test(s)) {
    if (CRED_FILE.test(s) || /\.ssh|\.aws|\.gnupg|\.kube/.test(s)) return deny('secret-disclosure', 'archives a credential directory');
    return allow('tar creates a new archive');
  }
  if (/(^|\s)-?[a-zA-Z]*[ru]|--append|--update|--delete/.test(s)) return approve('state-change', 'tar modifies an archive');
  return unknown('tar mode unclear');
};
for (const w of ['gzip', 'gunzip', 'bzip2', 'bunzip2', 'xz', 'unxz', 'lzma', 'unlzma', 'zstd', 'unzstd', 'zstdmt', 'lz4', 'pigz'])
  P[w] = (a, x) => {
    if (hasOpt(a, '-l', '--list') || hasOpt(a, '-t', '--test')) return allow(`${x} lists or tests compressed data`);
    if (hasOpt(a, '-c', '--stdout', '--to-stdout') || a.filter((y) => !y.startsWith('-')).length === 0) return allow(`${x} compresses/decompresses to stdout`);
    if (hasOpt(a, '-k', '--keep')) return allow(`${x} writes a new file and keeps the original`);
    if (/--train/.test(a.join(' '))) return allow(`${x} trains a dictionary into a new file`);
    return approve('state-change', `${x} replaces the input file with its (de)compressed form`);
  };
P.zip = (a) => {
  const s = a.join(' ');
  if (/-TT|--unzip-command/.test(s)) return approve('embedded-code', 'zip -TT runs the given test command');
  if (/(^|\s)-[a-zA-Z]*[dmA]|--delete|--move|-F/.test(s)) return approve('state-change', 'zip modifies or deletes from an archive/inputs');
  if (/\.ssh|\.aws|\.gnupg/.test(s)) return deny('secret-disclosure', 'zips credential files');
  return allow('zip creates or updates an archive');
};
P.unzip = (a) => (hasOpt(a, '-l', '-t', '-v', '-p', '-Z', '-z') ? allow('unzip lists/tests/prints an archive') : approve('state-change', 'unzip extracts files, may overwrite'));
P.zipnote = (a) => (hasOpt(a, '-w') ? approve('state-change', 'zipnote -w rewrites archive comments') : allow('zipnote prints archive comments'));
P.zipsplit = P.zipcloak = () => approve('state-change', 'rewrites archives');

// Services, logs, system.
P.systemctl = (a) => {
  const sub = a.find((x) => !x.startsWith('-'));
  if (!sub || /^(status|show|cat|list-units|list-unit-files|list-timers|list-sockets|list-dependencies|list-jobs|is-active|is-enabled|is-failed|is-system-running|get-default|help|show-environment)$/.test(sub))
    return sub === 'show-environment' ? approve('secret-disclosure', 'show-environment prints the manager environment') : allow('systemctl query, read-only');
  return approve('system', `systemctl ${sub} changes service or system state`);
};
P.journalctl = (a) => (a.some((x) => /^--(vacuum|rotate|flush|relinquish|setup-keys|sync)/.test(x)) ? approve('system', 'journalctl maintenance changes the journal') : allow('reads the journal'));
P.loginctl = (a) => (/^(terminate|kill|enable-linger|disable-linger|lock|unlock|activate|attach|flush)/.test(a.find((x) => !x.startsWith('-')) ?? '') ? approve('system', 'loginctl changes sessions') : allow('loginctl query'));
P.timedatectl = (a) => (/^set/.test(a.find((x) => !x.startsWith('-')) ?? '') ? approve('system', 'timedatectl changes system time settings') : allow('timedatectl query'));
P.localectl = (a) => (/^set/.test(a.find((x) => !x.startsWith('-')) ?? '') ? approve('system', 'changes locale settings') : allow('localectl query'));
P.hostnamectl = (a) => (/^set/.test(a.find((x) => !x.startsWith('-')) ?? '') ? approve('system', 'changes host name') : allow('hostnamectl query'));
P.busctl = (a) => (/^(call|set-property|emit|capture)$/.test(a.find((x) => !x.startsWith('-')) ?? '') ? approve('system', 'busctl calls methods or sets properties on system services') : allow('busctl introspection'));
P.gdbus = (a) => (/call|emit/.test(a.join(' ')) ? approve('system', 'gdbus calls a D-Bus method') : allow('gdbus introspection'));
P.sysctl = (a) => (a.some((x) => x.includes('=')) || hasOpt(a, '-w', '-p', '--system', '--load') ? approve('system', 'sysctl writes kernel parameters') : allow('sysctl reads kernel parameters'));
P.mount = (a) => (a.filter((x) => !x.startsWith('-')).length === 0 && !a.some((x) => /^-(a|-all)$/.test(x)) ? allow('lists mounts') : approve('system', 'mount changes the mount table'));
P.umount = P.swapon = P.swapoff = P.losetup = P.pivot_root = P.chroot = P.unshare = P.nsenter = P.setarch = P.zramctl = P.partx = P.chmem = (a, w) => {
  if (w === 'losetup' && (a.length === 0 || hasOpt(a, '-l', '-a', '--list', '--all', '-j'))) return allow('lists loop devices');
  if (w === 'partx' && hasOpt(a, '-s', '--show', '-o')) return allow('partx shows partitions');
  if (w === 'zramctl' && a.length === 0) return allow('lists zram devices');
  if (w === 'swapon' && hasOpt(a, '--show', '-s')) return allow('shows swap');
  return approve('system', `${w} changes mounts, devices or namespaces`);
};
for (const w of ['mkfs', 'mkfs.ext2', 'mkfs.ext3', 'mkfs.ext4', 'mkfs.xfs', 'mkfs.btrfs', 'mkfs.vfat', 'mke2fs', 'mkswap', 'wipefs', 'sgdisk'])
  P[w] = (a, x) => {
    if (x === 'wipefs' && !hasOpt(a, '-a', '--all', '-o', '--offset')) return allow('wipefs without -a only lists signatures');
    const dev = a.find((y) => y.startsWith('/dev/'));
    if (x === 'mkswap' && !dev) return approve('system', 'mkswap formats a swap file');
    return deny('fs-destructive', `${x} overwrites ${dev ?? 'a device'} with a new filesystem/label`);
  };
P.fdisk = P.sfdisk = P.parted = P.cfdisk = (a, w) => (hasOpt(a, '-l', '--list', '-d', '--dump', '-J', '--json', '-s', '--show-size', '-V', '--verify', '--list-free') || a.includes('print') ? allow(`${w} prints the partition table`) : deny('fs-destructive', `${w} rewrites the partition table`));
for (const w of ['pvs', 'vgs', 'lvs', 'pvdisplay', 'vgdisplay', 'lvdisplay', 'pvscan', 'vgscan', 'lvscan', 'pvck', 'lvmdiskscan', 'lvmconfig', 'dmstats_ro']) P[w] = (a, x) => allow(`${x} reports LVM state`);
for (const w of ['pvremove', 'vgremove', 'lvremove']) P[w] = (a, x) => deny('fs-destructive', `${x} destroys LVM volumes and the data on them`);
for (const w of ['pvcreate', 'vgcreate', 'lvcreate', 'lvextend', 'lvresize', 'lvreduce', 'lvconvert', 'lvchange', 'vgchange', 'pvchange', 'pvresize', 'pvmove', 'vgextend', 'vgreduce', 'vgmerge', 'vgsplit', 'vgrename', 'lvrename', 'vgimportclone', 'vgimport', 'vgexport', 'vgcfgrestore', 'lvm', 'fsadm', 'blkdeactivate', 'dmsetup', 'dmstats', 'mdadm', 'mdmon', 'cryptsetup', 'integritysetup', 'veritysetup', 'xfs_repair', 'e2fsck', 'fsck', 'tune2fs', 'resize2fs', 'btrfs', 'btrfstune', 'xfs_quota', 'quotacheck', 'edquota', 'setquota'])
  P[w] = (a, x) => {
    const s = a.join(' ');
    if (/luksFormat|luksErase|erase|--zero|reencrypt --encrypt|\bformat\b/.test(s) && /cryptsetup|integritysetup|veritysetup/.test(x)) return deny('fs-destructive', `${x} formats/erases a device`);
    if (x === 'lvreduce' || (x === 'lvresize' && /-L\s*-|--size\s*-/.test(s))) return approve('fs-destructive', 'shrinking a volume can cut off filesystem data');
    if (/^(dmstats|dmsetup)$/.test(x) && /^(list|report|ls|info|status|table|print|deps|version)/.test(a[0] ?? '')) return allow(`${x} reports device-mapper state`);
    if (x === 'mdadm' && hasOpt(a, '-D', '--detail', '-E', '--examine', '-Q', '--query')) return allow('mdadm queries arrays');
    if (x === 'cryptsetup' && /^(status|luksDump|isLuks|luksUUID|tcryptDump|bitlkDump|fvault2Dump|benchmark)$/.test(a.find((y) => !y.startsWith('-')) ?? '')) {
      if (/--dump-(master|volume)-key|--dump-json-metadata.*key/.test(s)) return deny('secret-disclosure', 'dumps the volume key');
      return allow('cryptsetup reports header/status');
    }
    if (x === 'btrfs' && /\b(show|list|df|usage|du|get|status|dump-super|dump-tree|inspect-internal|find-root|version|stats|label)\b/.test(s) && !/\b(set|delete|remove|create|add|balance start|defrag|resize|replace start|snapshot)\b/.test(s)) return allow('btrfs reports filesystem state');
    if (x === 'btrfs' && /subvolume delete|device (remove|delete)|rescue|check --repair|restore|zero-log/.test(s)) return approve('fs-destructive', 'btrfs deletes subvolumes/devices or repairs in place');
    if (x === 'xfs_quota' && /-c\s*'?(report|print|df|state|quota)/.test(s) && !/limit|timer|off|remove|enable|disable/.test(s)) return allow('xfs_quota reports');
    if (x === 'lvm' && /^(version|fullreport|lvs|pvs|vgs|config|dumpconfig|help|formats|segtypes|tags|systemid)$/.test(a[0] ?? '')) return allow('lvm report');
    if (/mdadm/.test(x) && /--zero-superblock|--create|-C\b/.test(s)) return deny('fs-destructive', 'mdadm --create/--zero-superblock overwrites member devices');
    return approve('system', `${x} changes storage configuration`);
  };

// Packages, users, firewall, network config.
P['apt-get'] = P.apt = P.aptitude = (a, w) => {
  const sub = a.find((x) => !x.startsWith('-'));
  if (/^(show|search|list|policy|depends|rdepends|changelog|showsrc|download|source|help)$/.test(sub ?? '') || hasOpt(a, '-s', '--simulate', '--dry-run', '--just-print')) return allow(`${w} ${sub} query or simulation`, hasOpt(a, '-s', '--simulate', '--dry-run') ? 'readonly-form' : 'benign');
  return approve('system', `${w} ${sub} changes installed packages or package lists`);
};
P['apt-cache'] = P['apt-config'] = P['dpkg-query'] = P['apt-mark_ro'] = () => allow('package database query');
P.dpkg = (a) => (hasOpt(a, '-l', '-L', '-s', '-S', '-p', '--list', '--listfiles', '--status', '--search', '--print-architecture', '--get-selections', '-c', '--contents', '-I', '--info', '--compare-versions', '--audit', '--verify', '-V') ? allow('dpkg query') : approve('system', 'dpkg installs/removes/configures packages'));
P['dpkg-divert'] = P['update-alternatives'] = P['update-rc.d'] = P['dpkg-reconfigure'] = P['debconf-set-selections'] = P['update-locale'] = P['add-apt-repository'] = P['apt-add-repository'] = P.ucf = P.ucfr = P['debconf-copydb'] = P['dpkg-name'] = P['start-stop-daemon'] = P['run-parts'] = (a, w) => {
  if (w === 'dpkg-divert' && hasOpt(a, '--list', '--listpackage', '--truename')) return allow('lists diversions');
  if (w === 'update-alternatives' && hasOpt(a, '--display', '--query', '--list', '--get-selections')) return allow('queries alternatives');
  if (w === 'run-parts' && hasOpt(a, '--test', '--list')) return allow('run-parts --test lists what would run', 'readonly-form');
  if (w === 'add-apt-repository' || w === 'apt-add-repository') return approve('remote-code', 'adds a package source the host will trust');
  if (w === 'run-parts') return approve('interpreter', 'runs every script in a directory');
  return approve('system', `${w} changes system configuration`);
};
for (const w of ['useradd', 'userdel', 'usermod', 'adduser', 'deluser', 'groupadd', 'groupdel', 'groupmod', 'groupmems', 'gpasswd', 'passwd', 'chpasswd', 'chsh', 'chfn', 'chage', 'newusers', 'vipw', 'vigr', 'visudo', 'pwck', 'grpck'])
  P[w] = (a, x) => {
    if ((x === 'groupmems' && hasOpt(a, '-l', '--list')) || (x === 'chage' && hasOpt(a, '-l')) || (x === 'passwd' && hasOpt(a, '-S', '--status')) || (x === 'visudo' && hasOpt(a, '-c', '--check')) || (x === 'pwck' && hasOpt(a, '-r')))
      return allow(`${x} query`);
    return approve('privilege', `${x} changes users, groups or credentials`);
  };
P.iptables = P.ip6tables = P['iptables-nft'] = P['ip6tables-nft'] = P['iptables-legacy'] = P.ebtables = P['ebtables-nft'] = P.arptables = P['arptables-nft'] = (a, w) =>
  hasOpt(a, '-L', '-S', '--list', '--list-rules') && !hasOpt(a, '-A', '-D', '-I', '-F', '-X', '-P', '-R', '-N', '-Z') ? allow(`${w} lists rules (read-only)`) : approve('system', `${w} changes firewall rules`);
for (const w of ['iptables-save', 'ip6tables-save', 'iptables-nft-save', 'ip6tables-nft-save', 'iptables-legacy-save', 'ebtables-nft-save', 'xtables-monitor', 'iptables-translate', 'ip6tables-translate', 'iptables-restore-translate', 'ip6tables-restore-translate', 'ebtables-translate', 'xtables-translate', 'arptables-nft-save'])
  P[w] = (a, x) => allow(`${x} prints or translates rules without applying them`);
for (const w of ['iptables-restore', 'ip6tables-restore', 'iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-legacy-restore', 'iptables-apply', 'ebtables-nft-restore'])
  P[w] = (a, x) => (hasOpt(a, '-t', '--test') ? allow(`${x} --test parses without committing`, 'readonly-form') : approve('system', `${x} replaces firewall rules`));
P.nft = (a) => {
  const s = a.join(' ');
  if (hasOpt(a, '-c', '--check')) return allow('nft --check validates without applying', 'readonly-form');
  if (/^(-[a-zA-Z]+\s+)*(list|describe|monitor)\b/.test(s) || /\b(list|describe|monitor)\b/.test(a.find((x) => !x.startsWith('-')) ?? '')) return allow('nft lists or monitors rules');
  return approve('system', 'nft changes firewall rules');
};
P.ufw = (a) => (/^(status|show|app)$/.test(a.find((x) => !x.startsWith('-')) ?? '') || hasOpt(a, '--dry-run') ? allow('ufw status/dry-run', hasOpt(a, '--dry-run') ? 'readonly-form' : 'benign') : approve('system', 'ufw changes firewall rules'));
P['firewall-cmd'] = (a) => (a.every((x) => /^--(list|get|query|info|state|check)/.test(x) || !x.startsWith('--') || /^--(zone|permanent|policy)/.test(x)) && a.some((x) => /^--(list|get|query|info|state|check)/.test(x)) ? allow('firewall-cmd query') : approve('system', 'firewall-cmd changes firewall configuration'));
P.ip = (a) => {
  const s = a.filter((x) => !/^-(\w|-?(j|json|p|pretty|s|stats|d|details|c|color|br|brief|4|6|o|oneline|n|netns))$/.test(x) && !/^-(j|p|s|d|c|4|6)+$/.test(x));
  if (s[0] === '-n' || s[0] === '-netns') s.splice(0, 2);
  if (s[0] === 'netns' && s[1] === 'exec') return unknown('ip netns exec runs a command');
  const verb = s[1];
  if (s.length <= 1 || !verb || /^(show|list|ls|lst|get|monitor|help|l|s|sh)$/.test(verb) || (s[0] === 'neigh' && verb === 'get')) return allow(`ip ${s[0] ?? ''} show, read-only`);
  if (s[0] === 'route' && verb === 'get') return allow('ip route get, read-only');
  return approve('system', `ip ${s[0]} ${verb} changes network configuration`);
};
P.tc = P.devlink = P.rdma = P.dcb = P.vdpa = P.tipc = P.bridge = P.ethtool = P.arp = P.route = P.ifconfig = P.arpd = P.rtmon = P.iw = (a, w) => {
  const s = a.join(' ');
  if (w === 'ifconfig' && a.filter((x) => !x.startsWith('-')).length <= 1) return allow('ifconfig shows interfaces');
  if (w === 'route' && !/\b(add|del)\b/.test(s)) return allow('route prints the routing table');
  if (w === 'arp' && !/(-s|-d|--set|--delete|-f)\b/.test(s)) return allow('arp shows the cache');
  if (w === 'ethtool' && !/^-[sKAGLEfWpr]|--(change|set|flash|reset|features|offload)/.test(s)) return allow('ethtool reports settings');
  if (/\b(show|list|ls|monitor|stat|statistic|get)\b/.test(s) && !/\b(add|set|del|delete|change|replace|reload|flush|bind|unbind|load|unload)\b/.test(s)) return allow(`${w} reports state`);
  if (w === 'rtmon') return allow('rtmon logs routing changes to a file');
  return approve('system', `${w} changes network or device configuration`);
};

// Privilege and process wrappers handled in unwrap(); here: interpreters and shells.
for (const w of ['python', 'python3', 'python2', 'perl', 'ruby', 'node', 'nodejs', 'php', 'lua', 'Rscript', 'deno', 'bun', 'tclsh', 'wish', 'expect', 'escript', 'erl', 'jshell', 'jrunscript', 'java', 'pwsh', 'osascript', 'guile', 'julia', 'irb'])
  P[w] = (a, x) => {
    const s = a.join(' ');
    if (hasOpt(a, '--version', '-V', '--help', '-h') && a.length === 1) return allow(`${x} --version/--help`, 'readonly-form');
    if (/os\.system|subprocess|child_process|system\(|exec\(|`|popen|spawn/.test(s)) return approve('interpreter', `${x} inline code runs commands`);
    if (exactOpt(a, '-c', '-e', '-E', '-r', '--eval', '-p', '--print', '-n', '-pe', '-ne', '-pi', '-lane', '-le', '-i', '-pie') || /^-[a-zA-Z]*e$/.test(a[0] ?? '')) return approve('interpreter', `${x} runs inline code the guard does not evaluate`);
    if (a.length === 0 || (a.length === 1 && a[0] === '-')) return approve('interpreter', `interactive or stdin ${x}`);
    return approve('interpreter', `${x} runs a script or module the guard cannot read`);
  };
for (const w of ['sh', 'bash', 'dash', 'zsh', 'ksh', 'fish', 'csh', 'tcsh', 'busybox'])
  P[w] = (a, x) => {
    if (a.includes('-n') && a.length <= 2) return allow(`${x} -n only parses`, 'readonly-form');
    if (exactOpt(a, '-c')) return unknown(`${x} -c: judge the inner command`);
    return approve('interpreter', `${x} runs a script or interactive shell the guard cannot read`);
  };
P.source = P['.'] = () => approve('interpreter', 'sources a script into the current shell');
P.eval = () => unknown('eval: judge the evaluated string');
P.exec = () => unknown('exec replaces the shell');
P.trap = (a) => {
  const rest = a.filter((x) => x !== '--');
  if (rest.length === 0 || rest[0] === '-l' || rest[0] === '-p') return allow('trap lists traps or signal names');
  if (rest[0] === '-' || /^\d+$/.test(rest[0])) return allow('trap - resets traps to their defaults', 'embedded-code');
  const code = rest[0];
  if (code.trim() === '') return allow('trap with an empty string only ignores the signals', 'embedded-code');
  if (/^[A-Za-z_][\w-]*$/.test(code) && !P[code]) return approve('embedded-code', `trap runs the shell function ${code}, whose body is not on this line`);
  const v = judgeLine(code, 1);
  if (v.label === 'allow') return allow(`trap registers harmless code (${code.slice(0, 40)})`, 'embedded-code');
  return { ...v, label: v.label === '?' ? '?' : v.label, family: v.family === 'benign' ? 'embedded-code' : v.family, reason: `trap registers code that will run later: ${v.reason}` };
};
P.make = (a) => (hasOpt(a, '-n', '--dry-run', '--just-print', '--recon', '-q', '--question', '-p', '--print-data-base') ? allow('make -n prints without running', 'readonly-form') : approve('interpreter', 'make runs Makefile recipes'));
P.cmake = (a) => (hasOpt(a, '--help', '--version', '-E') ? allow('cmake help/tool mode') : approve('interpreter', 'cmake runs project CMake code'));
for (const w of ['gcc', 'g++', 'cc', 'c++', 'clang', 'javac', 'jar', 'jlink', 'jmod', 'jpackage', 'jarsigner', 'jdeps', 'jdeprscan', 'jps', 'rpcgen', 'h2xs', 'enc2xs', 'pod2man', 'localedef', 'gprof'])
  P[w] = (a, x) => {
    if (x === 'jarsigner' && !hasOpt(a, '-verify')) return approve('privilege', 'signs with a private key from a keystore');
    if (x === 'jps' || x === 'jdeps' || x === 'jdeprscan' || (x === 'jar' && hasOpt(a, '-t', '--list', 't', 'tf'))) return allow(`${x} inspects`);
    return allow(`${x} builds/compiles into new output files`, 'benign');
  };
P.prove = P.cpan = P['pg_buildext'] = (a, w) => approve('interpreter', `${w} runs project test or build code`);

// Network tools.
P.curl = (a) => curlJudge(a);
P.wget = (a) => {
  const s = a.join(' ');
  if (/--post-file|--body-file/.test(s)) return approve('exfiltration', 'wget uploads a local file');
  if (/--method=(DELETE|PUT|PATCH|POST)|--post-data|--body-data/i.test(s)) return approve('destructive-cli', 'wget sends a state-changing request');
  return allow('wget downloads to a new file');
};
P.http = P.https = P.xh = P.httpie = (a, w) => {
  const methods = a.find((x) => /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/.test(x));
  const items = a.filter((x) => /^[\w-]+(=|:=|==|@|=@|:=@)/.test(x) && !/^[\w-]+==/.test(x));
  if (a.some((x) => /^[\w-]+(=@|:=@|@)/.test(x) || /^@[^\s]/.test(x)) || a.includes('<')) return approve('exfiltration', `${w} uploads local file content`);
  if (methods === 'DELETE' || methods === 'PUT' || methods === 'PATCH') return approve('destructive-cli', `${w} ${methods} changes remote state`);
  if (methods === 'POST' || items.length || hasOpt(a, '--form', '-f')) return approve('network', `${w} sends data (POST)`);
  return allow(`${w} GET request`);
};
P.ssh = (a) => sshJudge(a);
P.slogin = P.ssh;
P.scp = P.sftp = P.rsync = P['rsync-ssl'] = (a, w) => transferJudge(a, w);
P.nc = P.netcat = P.ncat = P['nc.openbsd'] = P['nc.traditional'] = (a, w) => ncJudge(a, w);
P.socat = (a) => socatJudge(a);
P.telnet = () => approve('network', 'interactive connection to another host');
P.nmap = P.nping = P.masscan = (a, w) => (hasOpt(a, '-sL', '--version', '-V', '--help') ? allow(`${w} list/version only`) : approve('network', `${w} actively probes other hosts`));
P.tcpdump = (a) => (hasOpt(a, '-r', '-D', '--list-interfaces', '--version', '-h') ? allow('tcpdump reads a capture file or lists interfaces') : approve('network', 'tcpdump captures live traffic, which can carry credentials'));
P['ssh-keyscan'] = () => allow('fetches public host keys');
P['ssh-keygen'] = (a) => {
  if (hasOpt(a, '-l', '-F', '-B') || (hasOpt(a, '-y') && !hasOpt(a, '-f') === false && false)) return allow('ssh-keygen fingerprints/looks up keys');
  if (hasOpt(a, '-y')) return allow('derives a public key from a private key file (prints only the public half)');
  if (hasOpt(a, '-R')) return approve('state-change', 'removes a host from known_hosts');
  if (hasOpt(a, '-s')) return approve('privilege', 'signs a certificate with a CA key');
  if (hasOpt(a, '-p', '-c')) return approve('state-change', 'changes a private key passphrase/comment');
  return allow('generates a new key pair into a file (mints no access by itself)');
};
P['ssh-add'] = (a) => (hasOpt(a, '-l', '-L') ? allow('lists agent identities') : approve('privilege', 'loads/removes keys in the SSH agent'));
P['ssh-copy-id'] = () => approve('privilege', 'installs a key on a remote account');
P['ssh-agent'] = () => approve('privilege', 'starts an SSH agent');
P.sshpass = (a) => approve('secret-disclosure', 'sshpass puts a password on the command line to log in');
P.lftp = P.ftp = P.s3cmd = P.rclone = P.duplicity = P.restic = P.borg = P['rdiff-backup'] = (a, w) => backupJudge(a, w);

// Crypto.
P.openssl = (a) => opensslJudge(a);
P.gpg = P.gpg2 = P.gpgsm = P['gpg-zip'] = P.gpgtar = (a, w) => {
  const s = a.join(' ');
  if (/--export-secret-(sub)?keys|--export-secret/.test(s)) return deny('secret-disclosure', 'exports secret key material');
  if (/--(delete-secret-keys|delete-secret-and-public-key)/.test(s)) return approve('fs-destructive', 'deletes secret keys');
  if (/--(decrypt|-d\b)|(^|\s)-d(\s|$)/.test(s)) return approve('secret-disclosure', 'decrypts data (plaintext may be secret)');
  if (/--(list|fingerprint|check-sigs|list-sigs|verify|print-md|version|help|show-keys|list-packets|list-config|list-dirs|export-ownertrust)|(^|\s)-k(\s|$)|(^|\s)-K(\s|$)/.test(s)) return allow(`${w} lists/verifies`);
  if (/--(import|recv-keys|receive-keys|edit-key|sign-key|lsign-key|gen-key|full-gen-key|quick-gen-key|generate-key|delete-keys|import-ownertrust|refresh-keys|send-keys)/.test(s)) return approve('state-change', `${w} changes the keyring`);
  if (/--(encrypt|symmetric|sign|clearsign|detach-sign|armor|export)|(^|\s)-[a-zA-Z]*[esca]/.test(s)) return allow(`${w} encrypts/signs/exports public data into new output`);
  return unknown(`${w} mode unclear`);
};
P.age = (a) => (hasOpt(a, '-d', '--decrypt') ? approve('secret-disclosure', 'decrypts data') : allow('age encrypts to a new file'));
P['age-keygen'] = (a) => (hasOpt(a, '-y') ? allow('prints the recipient of an identity') : allow('generates a new identity file'));
P.pass = P.gopass = (a, w) => {
  const sub = a.find((x) => !x.startsWith('-'));
  if (!sub || /^(ls|list|find|search|grep_names|help|version)$/.test(sub)) return allow(`${w} lists entries`);
  if (/^(show|cat|otp)$/.test(sub) || (sub && !/^(insert|edit|generate|rm|mv|cp|init|git|sync|setup|create|delete)$/.test(sub))) return deny('secret-disclosure', `${w} prints a stored secret`);
  return approve('state-change', `${w} ${sub} changes the password store`);
};

// Databases (direct clients; SQL judged by text).
P.psql = P.mysql = P.mariadb = P.sqlite3 = (a, w) => sqlJudge(a, w);
for (const w of ['pg_dump', 'pg_dumpall', 'mysqldump', 'mariadb-dump', 'pg_basebackup', 'pg_receivewal']) P[w] = (a, x) => (x === 'pg_dumpall' && hasOpt(a, '--roles-only', '-r', '-g', '--globals-only') ? deny('secret-disclosure', 'dumps role password hashes') : approve('exfiltration', `${x} copies the database out`));
for (const w of ['createdb', 'createuser', 'dropdb', 'dropuser', 'pg_ctl', 'pg_restore', 'vacuumdb', 'reindexdb', 'clusterdb', 'postgres', 'pg_virtualenv', 'mysqladmin', 'mysqlslap', 'mariadb-slap', 'redis-cli', 'mongosh', 'rabbitmqctl'])
  P[w] = (a, x) => {
    if (x === 'pg_restore' && (hasOpt(a, '-l', '--list') || (!hasOpt(a, '-d', '--dbname') && !a.some((y) => y.startsWith('--dbname'))))) return allow('pg_restore lists or prints the archive');
    if (/^(dropdb|dropuser)$/.test(x)) return approve('destructive-cli', `${x} drops a database object`);
    if (x === 'pg_ctl' && /status/.test(a.join(' '))) return allow('pg_ctl status');
    if (x === 'rabbitmqctl' && /^(list_|status|environment|report|cluster_status)/.test(a[0] ?? '')) return allow('rabbitmqctl query');
    return approve('destructive-cli', `${x} changes database state`);
  };
for (const w of ['mysql_find_rows', 'mariadb-find-rows', 'mysqlbinlog', 'mariadb-binlog', 'pg_test_timing', 'pg_verifybackup', 'pg_controldata', 'oid2name', 'pg_isready']) P[w] = (a, x) => allow(`${x} reads/reports`);

// Scheduling.
P.at = P.batch = (a, w) => (hasOpt(a, '-l', '-c') ? allow('at lists jobs') : approve('embedded-code', `${w} schedules commands to run later`));
P.atq = () => allow('lists queued jobs');
P.atrm = () => approve('state-change', 'removes scheduled jobs');
P.crontab = (a) => (hasOpt(a, '-l') ? allow('lists the crontab') : hasOpt(a, '-r') ? approve('fs-destructive', 'removes the crontab') : approve('embedded-code', 'installs scheduled commands'));
P['systemd-run'] = () => unknown('systemd-run runs a command as a transient unit');
P['systemd-notify'] = P['systemd-cat'] = P['systemd-inhibit'] = P['systemd-socket-activate'] = P['systemd-ask-password'] = P.logger = (a, w) =>
  w === 'systemd-cat' || w === 'systemd-inhibit' || w === 'systemd-socket-activate' ? unknown(`${w} wraps a command`) : allow(`${w} sends a status/log message`);
P.watch = () => unknown('watch repeats a command');

// Cloud and platform CLIs.
P.aws = (a) => awsJudge(a);
P.gcloud = (a) => gcloudJudge(a);
P.gh = (a) => ghJudge(a);
P.kubectl = (a) => kubectlJudge(a);
P.docker = P.podman = (a, w) => containerJudge(a, w);
P.buildah = (a) => buildahJudge(a);
P.skopeo = (a) => {
  const sub = a.find((x) => !x.startsWith('-'));
  if (/^(inspect|list-tags|help|--version)$/.test(sub)) return allow('skopeo inspects a registry image');
  if (sub === 'delete') return approve('destructive-cli', 'deletes an image from a registry');
  if (sub === 'login') return approve('privilege', 'stores registry credentials');
  if (sub === 'logout') return approve('state-change', 'removes stored registry credentials');
  if (sub === 'copy' || sub === 'sync') return approve('state-change', 'copies images into a registry or local storage');
  return unknown('skopeo subcommand');
};
P.git = (a) => gitJudge(a);
P['git-lfs'] = (a) => gitJudge(['lfs', ...a]);
P.certbot = (a) => (/^(certificates|--version|--help)$/.test(a[0] ?? '') || hasOpt(a, '--dry-run') ? allow('certbot query/dry-run', hasOpt(a, '--dry-run') ? 'readonly-form' : 'benign') : approve('system', 'certbot obtains/installs/revokes certificates'));
P.npm = P.pip = P.pip3 = P.yarn = P.pnpm = P.gem = P.cargo = P.go = (a, w) => {
  const sub = a[0];
  if (/^(install|i|add|update|upgrade|ci|exec|run|x|dlx|get)$/.test(sub)) return approve('remote-code', `${w} ${sub} fetches and runs package code`);
  if (/^(token|whoami)$/.test(sub) && w === 'npm') return sub === 'token' ? deny('secret-disclosure', 'npm token manages/prints registry tokens') : allow('prints the user name');
  if (/^(list|ls|show|view|info|search|outdated|freeze|--version|-v|help|config)$/.test(sub)) return allow(`${w} ${sub} query`);
  return approve('state-change', `${w} ${sub}`);
};

// Terminal and misc.
P.tmux = P.screen = (a, w) => (/^(ls|list-sessions|list-windows|list-panes|show-options|show|display-message|-ls|-list)$/.test(a.find((x) => !x.startsWith('-') || x === '-ls' || x === '-list') ?? '') ? allow(`${w} lists sessions`) : unknown(`${w} may run commands in a session`));
P.script = (a) => approve('state-change', 'records a terminal session to a file');
P.su = P.sudo = P.doas = P.runuser = (a, w) => approve('privilege', `${w} opens a root/other-user shell`);
P.sudoedit = P.vi = P.vim = P.nano = P.emacs = (a, w) => approve('state-change', `${w} edits a file interactively`);
P.sudoreplay = (a) => (hasOpt(a, '-l') ? allow('lists recorded sudo sessions') : allow('replays a recorded session (read-only)'));
P.autoexpect = P.kibitz = P.multixterm = P.xkibitz = P.dislocate = (a, w) => approve('interpreter', `${w} records or drives interactive programs`);
P.perf = (a) => (/^(report|list|script|annotate|diff|evlist|version|help|buildid-list|timechart|kmem|mem report|lock report|c2c report|daemon list)/.test(a.join(' ')) && !/record/.test(a.join(' ')) ? allow('perf reads recorded data') : approve('system', 'perf records/traces processes (needs privileges, can read other processes)'));
P.strace = P.ltrace = P.gdb = (a, w) => approve('privilege', `${w} attaches to or runs a process under tracing`);
P.capsh = P.setpriv = P.prlimit = P.chrt = P.taskset = P.ionice = (a, w) => (w === 'prlimit' && a.every((x) => /^(--pid|-p|\d+|--output|-o|\w+(,\w+)*)$/.test(x)) && !a.some((x) => x.includes('=')) ? allow('prlimit shows limits') : unknown(`${w} wraps a command or changes process attributes`));
P.getty = P.agetty = P.login = P.init = P.telinit = P.reboot = P.shutdown = P.halt = P.poweroff = (a, w) => approve('system', `${w} manages logins or system power state`);
P.mknod = () => approve('system', 'creates a device node');
P.install = () => approve('state-change', 'install copies files with permissions');
P.gapplication = (a) => (a[0] === 'list-apps' || a[0] === 'help' || a[0] === 'list-actions' ? allow('lists applications') : approve('state-change', 'launches an application'));
P['dbus-update-activation-environment'] = () => approve('system', 'changes the D-Bus activation environment');
P['dbus-monitor'] = () => approve('secret-disclosure', 'eavesdrops on bus traffic, which can carry secrets');
P['gpg-connect-agent'] = (a) => approve('secret-disclosure', 'talks to gpg-agent, which holds secret keys');
P.gpgconf = (a) => (hasOpt(a, '--kill', '--reload', '--launch', '--change-options', '--apply-defaults', '--create-socketdir', '--remove-socketdir') ? approve('state-change', 'changes gnupg components') : allow('gpgconf lists configuration'));
P.readprofile = (a) => (hasOpt(a, '-r') ? approve('system', 'resets the kernel profiling buffer') : allow('reads kernel profile'));
P.fakeroot = () => unknown('fakeroot runs a command');
P.stdbuf = () => unknown('stdbuf wraps a command');
P.memusage = () => unknown('memusage runs a program');
P.debconf = P['debconf-apt-progress'] = P['debconf-communicate'] = (a, w) => approve('system', `${w} drives package configuration`);
P['systemd-creds'] = (a) => (/^(decrypt|cat)/.test(a.find((x) => !x.startsWith('-')) ?? '') ? deny('secret-disclosure', 'prints a decrypted credential') : /^(list|has-tpm2|setup)$/.test(a.find((x) => !x.startsWith('-')) ?? '') ? allow('lists credentials') : approve('state-change', 'encrypts a credential'));
P['systemd-cryptenroll'] = P['systemd-measure'] = P['systemd-repart'] = (a, w) => approve('system', `${w} changes security/storage configuration`);
P.write = P.wall = () => approve('state-change', 'writes to other users\' terminals');
P.wget2 = P.wget;

// ---------------------------------------------------------------------------------------------
function curlJudge(a) {
  const s = a.join(' ');
  const x = (a.find((_, i) => a[i - 1] === '-X' || a[i - 1] === '--request') ?? (a.find((y) => /^-X[A-Z]+$/.test(y)) ?? '').slice(2)).toUpperCase();
  if (a.some((y, i) => ['-T', '--upload-file'].includes(y)) || /(^|\s)-T\S/.test(s)) return approve('exfiltration', 'curl uploads a local file');
  if (a.some((y, i) => /^(-d|--data|--data-binary|--data-raw|--data-urlencode|--json|-F|--form)$/.test(a[i - 1] ?? '') && /(^|=)@|<[^ ]/.test(y) && y !== '@-') || /(^|\s)-d@/.test(s))
    return approve('exfiltration', 'curl sends a local file\'s contents');
  if (/--url-query\s+\S*@/.test(s)) return approve('exfiltration', 'curl puts a local file\'s contents in the query');
  if (/^(DELETE|PUT|PATCH)$/.test(x)) return approve('destructive-cli', `curl ${x} changes remote state`);
  if (x === 'POST' || hasOpt(a, '-d', '--data', '--data-binary', '--data-raw', '--data-urlencode', '--json', '-F', '--form', '--form-string', '--data-ascii'))
    return approve('network', 'curl sends data (POST) that can change remote state');
  if (/--mail-rcpt|--mail-from|smtp:\/\//.test(s)) return approve('exfiltration', 'curl sends mail');
  if (/--ftp-create-dirs|-Q\b|--quote/.test(s)) return approve('destructive-cli', 'curl sends raw FTP commands');
  return allow('curl fetches a URL (read-only request)');
}
function sshJudge(a) {
  const s = a.join(' ');
  let i = 0;
  const withArg = new Set(['-b', '-c', '-D', '-E', '-e', '-F', '-I', '-i', '-J', '-L', '-l', '-m', '-O', '-o', '-p', '-Q', '-R', '-S', '-W', '-w', '-B']);
  while (i < a.length && a[i].startsWith('-')) i += withArg.has(a[i]) ? 2 : 1;
  const rest = a.slice(i + 1);
  if (hasOpt(a, '-G', '-V', '-Q')) return allow('ssh prints configuration/version', 'readonly-form');
  if (/(^|\s)-[a-zA-Z]*[LRD]/.test(s)) return approve('network', 'ssh opens a port forward/tunnel');
  if (rest.length === 0) return approve('network', 'interactive session on another host');
  return approve('remote-exec', `runs "${rest.join(' ').slice(0, 60)}" on another host`);
}
function transferJudge(a, w) {
  const ops = a.filter((x) => !x.startsWith('-'));
  const remote = (x) => /^[\w.@-]+:(?!\/\/)|^[\w.@-]+::|^(rsync|sftp|scp):\/\//.test(x);
  if (w === 'sftp') return approve('network', 'interactive file transfer session');
  const dest = ops[ops.length - 1] ?? '';
  const srcs = ops.slice(0, -1);
  if (a.some((x) => x === '-e' || x.startsWith('--rsh') || x.startsWith('--rsync-path'))) return approve('embedded-code', `${w} -e/--rsync-path runs a given command`);
  if (remote(dest) && srcs.some((x) => !remote(x))) return approve('exfiltration', `${w} sends local files to a remote host`);
  if (a.includes('--remove-source-files') || a.includes('--delete') || a.some((x) => x.startsWith('--delete'))) return approve('fs-destructive', `${w} deletes files on one side`);
  if (a.includes('--only-write-batch') || a.includes('--dry-run') || a.includes('-n')) return allow(`${w} dry run`, 'readonly-form');
  return approve('state-change', `${w} copies files (may overwrite the destination)`);
}
function ncJudge(a, w) {
  const s = a.join(' ');
  if (/(^|\s)(-e|-c|--exec|--sh-exec|--lua-exec)\b/.test(s)) return deny('remote-code', `${w} ties a shell/program to a network socket`);
  if (hasOpt(a, '-l', '--listen')) return approve('network', `${w} listens for connections`);
  if (hasOpt(a, '-z')) return allow(`${w} -z only scans for open ports`);
  return approve('network', `${w} connects to a host and sends input`);
}
function socatJudge(a) {
  const s = a.join(' ');
  if (/(EXEC|SYSTEM):["']?(\/bin\/|\/usr\/bin\/)?(sh|bash|zsh|dash)\b/i.test(s) && /TCP|UDP|SSL|OPENSSL|SCTP|SOCKS/i.test(s)) return deny('remote-code', 'socat connects a shell to a network socket');
  if (/(EXEC|SYSTEM):/i.test(s)) return approve('embedded-code', 'socat runs a program for the connection');
  if (/LISTEN/i.test(s)) return approve('network', 'socat listens on a port');
  return approve('network', 'socat relays data to a remote endpoint');
}
function backupJudge(a, w) {
  const s = a.join(' ');
  const sub = a.find((x) => !x.startsWith('-') && !/^[A-Z_]+=/.test(x)) ?? '';
  if (/^(ls|lsd|lsl|lsf|lsjson|list|info|check|cat_ro|find|stats|snapshots|diff|version|size|about|tree|ncdu|help|config_show_no|la|du|md5sum|sha1sum|hashsum|listremotes|benchmark|verify|collection-status|list-current-files|compare)$/.test(sub) || hasOpt(a, '--dry-run', '-n', '--list-only'))
    return allow(`${w} ${sub} reads/lists a backup or remote`, hasOpt(a, '--dry-run', '-n') ? 'readonly-form' : 'benign');
  if (/^key$/.test(sub) && /export|list/.test(s)) return /list/.test(s) && !/export/.test(s) ? allow('lists repository keys') : approve('secret-disclosure', `${w} exports the (passphrase-protected) repository key to a file`);
  if (/^(delete|prune|forget|compact|purge|rmdir|rmdirs|cleanup|remove-older-than|remove-all-but-n-full|rb|rm|del|dedupe|deletefile)$/.test(sub)) return approve('destructive-cli', `${w} ${sub} deletes backups or remote data`);
  const remoteDest = /(ssh|sftp|s3|gs|b2|rest|swift|azure|rclone|ftp|scp|webdav|imap|smtp):|[\w.-]+@[\w.-]+:|(^|\s)[a-z][\w-]*:(?!:)[^\s]*/.test(s.replace(/::[^\s]*/g, '').replace(/file:\/\/\S+/g, ''));
  if (/^(init|mb|setacl)$/.test(sub)) return approve('state-change', `${w} ${sub} creates a repository/bucket`);
  if (/^(create|backup|copy|sync|move|put|mirror|upload|copyto|moveto|full|incr|recreate|rcat|send|cp|mv)$/.test(sub)) return approve(remoteDest ? 'exfiltration' : 'state-change', `${w} ${sub} writes backup data${remoteDest ? ' to a remote host' : ' locally'}`);
  if (/^(extract|restore|mount|umount|get|export-tar|import-tar|restore-as|copy-from|dump|cat)$/.test(sub)) return sub === 'dump' || sub === 'cat' ? allow(`${w} ${sub} prints backup contents`) : approve('state-change', `${w} ${sub} writes restored files or mounts a repository`);
  if (/^config$/.test(sub)) return /show|dump|--show/.test(s) ? deny('secret-disclosure', `${w} config shows stored remote credentials`) : approve('state-change', `${w} config changes settings`);
  return unknown(`${w} ${sub}`);
}
function opensslJudge(a) {
  const sub = a[0] ?? '';
  const s = a.join(' ');
  if (/^(version|help|list|ciphers|errstr|speed|rand|prime|s_time|asn1parse|dgst|sha\d*|md5|verify|crl|ocsp|x509|req|pkcs7|sess_id|nseq|cms|smime|ts|storeutl|crl2pkcs7|spkac|info|mac|kdf|base64|enc|pkcs12|pkey|rsa|ec|dsa|pkeyparam|ecparam|dhparam|dsaparam|genpkey|genrsa|gendsa|rsautl|pkeyutl|ca|s_client|s_server|passwd|srp|engine|fipsinstall|cmp|pkcs8|CA\.pl)$/.test(sub) === false)
    return unknown('openssl subcommand');
  if (/^(rsa|ec|dsa|pkey|pkcs8)$/.test(sub)) {
    if (/-pubout|-pubin/.test(s)) return allow(`openssl ${sub} prints/converts a public key`);
    if (/-text/.test(s) && !/-noout/.test(s)) return deny('secret-disclosure', `openssl ${sub} prints private key material`);
    if (/-out\s/.test(s)) return approve('secret-disclosure', `openssl ${sub} rewrites a private key (possibly without its passphrase)`);
    if (/-noout/.test(s)) return allow(`openssl ${sub} checks a key without printing it`);
    return deny('secret-disclosure', `openssl ${sub} prints a private key to stdout`);
  }
  if (sub === 'pkcs12') {
    if (/-export/.test(s)) return approve('secret-disclosure', 'bundles a private key into a PKCS#12 file');
    if (/-nokeys|-info\s.*-noout|-noout/.test(s)) return allow('prints certificates/info from a PKCS#12 file');
    return deny('secret-disclosure', 'extracts the private key from a PKCS#12 file');
  }
  if (/^(genpkey|genrsa|gendsa)$/.test(sub)) return /-out\s/.test(s) ? allow('generates a new private key into a file (mints no access)') : allow('generates a new key to stdout (fresh key, protects nothing yet)');
  if (sub === 'enc') return /(^|\s)-d(\s|$)/.test(s) ? approve('secret-disclosure', 'decrypts data with a key/password') : allow('encrypts/encodes data into new output');
  if (sub === 'rsautl' || sub === 'pkeyutl') return /-decrypt|-derive/.test(s) ? approve('secret-disclosure', `openssl ${sub} decrypts/derives with a private key`) : allow(`openssl ${sub} signs/verifies/encrypts`);
  if (sub === 'ca' || sub === 'CA.pl') return approve('privilege', 'issues/revokes certificates from a CA');
  if (sub === 's_server') return approve('network', 'starts a TLS server on a port');
  if (sub === 's_client') return allow('opens a TLS connection to inspect the server');
  if (sub === 'passwd') return allow('hashes a password given on the command line');
  if (sub === 'fipsinstall' || sub === 'engine') return /-out|fipsinstall/.test(s) && sub === 'fipsinstall' ? approve('system', 'writes FIPS module configuration') : allow('lists engines');
  if (sub === 'cmp') return approve('network', 'talks to a CMP certificate server');
  if (sub === 'smime' || sub === 'cms') return /-decrypt/.test(s) ? approve('secret-disclosure', 'decrypts a message with a private key') : allow(`openssl ${sub} signs/verifies/encrypts a message`);
  return allow(`openssl ${sub} inspects, converts or computes`);
}
function sqlJudge(a, w) {
  const s = a.join(' ');
  const sql = (a.find((_, i) => ['-c', '--command', '-e', '--execute'].includes(a[i - 1])) ?? (w === 'sqlite3' ? a.filter((x) => !x.startsWith('-'))[1] : '') ?? '').trim();
  if (hasOpt(a, '-f', '--file') || /(^|\s)-f\s/.test(s)) return approve('destructive-cli', `${w} runs an SQL file the guard cannot read`);
  if (!sql) return hasOpt(a, '--version', '-V', '--help', '-l', '--list') ? allow(`${w} version/list`) : approve('destructive-cli', `interactive ${w} session on a database`);
  return sqlText(sql, w);
}
function sqlText(sql, w) {
  const q = sql.replace(/\s+/g, ' ');
  if (/^\s*(SELECT|SHOW|EXPLAIN (?!ANALYZE)|\\d|\\l|\.tables|\.schema|PRAGMA table_info|VALUES|WITH [^;]* SELECT)/i.test(q) && !/INTO\s+\w|pg_read_file|pg_ls_dir|lo_import|COPY|passwd|authid|shadow|pg_authid|password/i.test(q))
    return allow(`${w} read-only query`);
  if (/^\s*COPY\s.*\sTO\s+STDOUT/i.test(q)) return allow(`${w} COPY … TO STDOUT only prints table data`);
  if (/pg_authid|mysql\.user|authentication_string|rolpassword/i.test(q)) return deny('secret-disclosure', 'reads stored password hashes');
  if (/TO PROGRAM|FROM PROGRAM/i.test(q)) return approve('embedded-code', 'COPY … PROGRAM runs a shell command on the database server');
  if (/^\s*DROP (DATABASE|SCHEMA)/i.test(q)) return approve('destructive-cli', 'drops a whole database/schema');
  if (/^\s*(DROP|TRUNCATE)/i.test(q)) return approve('destructive-cli', 'drops or empties database objects');
  if (/^\s*DELETE FROM \w+\s*;?\s*$/i.test(q)) return approve('destructive-cli', 'DELETE without WHERE empties the table');
  if (/^\s*(DELETE|UPDATE)/i.test(q)) return approve('destructive-cli', 'modifies rows');
  if (/PASSWORD/i.test(q)) return approve('privilege', 'sets a database password');
  if (/^\s*(GRANT|REVOKE|ALTER ROLE|CREATE ROLE|CREATE USER|SET ROLE|SET SESSION AUTHORIZATION|ALTER DEFAULT PRIVILEGES)/i.test(q)) return approve('privilege', 'changes database privileges');
  if (/^\s*COPY .* (FROM|TO) '/i.test(q)) return approve('destructive-cli', 'COPY reads/writes a file on the database server');
  return approve('destructive-cli', 'changes database state');
}
const AWS_SECRET_OPS =
  /^(get-secret-value|batch-get-secret-value|get-session-token|assume-role|assume-role-with-saml|assume-role-with-web-identity|get-federation-token|create-access-key|get-login-password|get-login|get-authorization-token|generate-db-auth-token|get-token|get-password-data|get-credentials-for-identity|get-open-id-token|get-open-id-token-for-developer-identity|get-role-credentials|create-service-specific-credential|reset-service-specific-credential|create-keys-and-certificate|export-certificate|get-instance-access-details|get-key-pair|download-default-key-pair|generate-data-key|generate-data-key-pair|generate-data-key-without-plaintext_no|decrypt|get-cluster-credentials|get-cluster-credentials-with-iam|export-credentials|get-data-key|get-temporary-glue-table-credentials|get-auth-token|create-presigned-url|create-presigned-domain-url|create-presigned-notebook-instance-url|get-presigned-url|presign|get-parameter-with-decryption|get-api-key-with-value|get-console-screenshot_no|get-kubeconfig|get-ca-certificate-with-key)$/;
function awsJudge(a) {
  const opts = new Set(['--region', '--profile', '--output', '--endpoint-url', '--query', '--color', '--cli-input-json']);
  let i = 0;
  while (i < a.length && a[i].startsWith('--')) i += opts.has(a[i]) ? 2 : 1;
  const svc = a[i];
  let j = i + 1;
  while (j < a.length && a[j].startsWith('--')) j += opts.has(a[j]) ? 2 : 1;
  const op = a[j] ?? '';
  const rest = a.slice(j + 1);
  const s = a.join(' ');
  if (!svc) return allow('aws help', 'readonly-form');
  if (svc === 'help' || op === 'help' || svc === '--version') return allow('aws help/version', 'readonly-form');
  if (exactOpt(a, '--dry-run') || exactOpt(a, '--generate-cli-skeleton')) return allow(`aws ${svc} ${op} --dry-run`, 'readonly-form');
  if (svc === 'configure') {
    if (op === 'get' && /secret|token|key/i.test(s)) return deny('secret-disclosure', 'aws configure get prints a stored credential');
    if (op === 'export-credentials') return deny('secret-disclosure', 'prints the active credentials');
    if (op === 'list' || op === 'list-profiles' || op === 'get') return allow('shows configuration (keys masked)');
    return approve('privilege', 'aws configure stores credentials/settings');
  }
  if (svc === 's3') {
    if (op === 'ls') return allow('lists buckets/objects');
    if (op === 'presign') return deny('secret-disclosure', 'mints a pre-signed URL (a bearer credential)');
    if (op === 'rm' || op === 'rb') return approve('destructive-cli', `aws s3 ${op} deletes ${hasOpt(rest, '--recursive', '--force') ? 'recursively' : 'objects'}`);
    const locs = rest.filter((x) => !x.startsWith('-'));
    const isS3 = (x) => /^s3:\/\//.test(x);
    if (/^(cp|sync|mv)$/.test(op)) {
      if (locs.length >= 2 && !isS3(locs[0]) && isS3(locs[1])) return approve('exfiltration', `aws s3 ${op} uploads local files`);
      if (op === 'mv' || (op === 'sync' && exactOpt(rest, '--delete'))) return approve('destructive-cli', `aws s3 ${op} removes data at the source/destination`);
      if (locs.length >= 2 && isS3(locs[0]) && !isS3(locs[1])) return allow('downloads objects to local files');
      return approve('state-change', 'copies objects between buckets');
    }
    if (op === 'mb' || op === 'website') return approve('state-change', `aws s3 ${op}`);
  }
  if (svc === 'ssm' && /^get-parameters?(-by-path)?$/.test(op)) return exactOpt(rest, '--with-decryption') ? deny('secret-disclosure', 'prints decrypted SecureString parameters') : allow('reads parameters (SecureStrings stay encrypted)');
  if (svc === 'apigateway' && /^get-api-keys?$/.test(op) && /--include-values?/.test(s)) return deny('secret-disclosure', 'prints API key values');
  if (svc === 'kms' && /^(decrypt|re-encrypt)$/.test(op)) return approve('secret-disclosure', 'decrypts a KMS ciphertext (plaintext may be a secret)');
  if (svc === 'kms' && /^(encrypt|sign|verify|generate-random)$/.test(op)) return allow(`aws kms ${op}`);
  if (AWS_SECRET_OPS.test(op) && op !== 'decrypt') return deny('secret-disclosure', `aws ${svc} ${op} prints or mints credentials`);
  if (svc === 'sts' && op === 'get-caller-identity') return allow('shows the calling identity');
  if (svc === 'ssm' && /^(send-command|start-session|start-automation-execution)$/.test(op)) return approve('remote-exec', `aws ssm ${op} runs commands on managed instances`);
  if (svc === 'ecs' && op === 'execute-command') return approve('remote-exec', 'runs a command in a container');
  if (/^(invoke|invoke-async|test-invoke-method|test-invoke-authorizer)$/.test(op)) return approve('remote-exec', `aws ${svc} ${op} runs remote code`);
  if (/^(describe|list|get|head|batch-get|batch-describe|batch-check|search|lookup|query|scan|select|estimate|preview|simulate|validate|detect|check|test-metric|filter|view|retrieve|download-db-log-file-portion|wait|infer|translate|compare|calculate|explain|discover|verify|can-paginate|sample|read)/.test(op) && !/^(get-object$|get-.*-content|download|select-object-content)/.test(op)) {
    if (/^(scan|query|get-item|batch-get-item|execute-statement)$/.test(op) && svc === 'dynamodb') return allow('reads table items');
    return allow(`aws ${svc} ${op} is read-only`);
  }
  if (/^get-object$/.test(op)) return allow('downloads an object to a local file');
  if (/^untag/.test(op)) return approve('state-change', `aws ${svc} ${op} removes tags`);
  if (/^(delete|terminate|remove|purge|deregister|disassociate|detach|cancel|stop|reject|revoke|disable|deactivate|release|reset|abort|unsubscribe|untag|batch-delete|flush|drop|destroy|clear|empty|deprovision|erase|wipe)/.test(op))
    return approve('destructive-cli', `aws ${svc} ${op} deletes or disables resources`);
  if (/^(put-bucket-policy|put-user-policy|put-role-policy|attach-|create-user|create-login-profile|update-login-profile|add-user|add-permission|authorize|create-policy|set-default-policy|create-role|update-assume-role|put-group-policy|create-group|create-grant|put-key-policy|change-password|admin-set-user-password|enable-mfa|associate-iam|modify-snapshot-attribute|modify-image-attribute|share|put-resource-policy|set-repository-policy|update-trust)/.test(op))
    return approve('privilege', `aws ${svc} ${op} changes access control`);
  if (/^(export|copy|create-export|start-export|replicate|share|put-bucket-replication|create-snapshot-copy|modify-db-snapshot-attribute)/.test(op)) return approve('exfiltration', `aws ${svc} ${op} copies data somewhere else`);
  return approve('state-change', `aws ${svc} ${op} changes cloud resources`);
}
function gcloudJudge(a) {
  const s = a.join(' ');
  const pos = a.filter((x) => !x.startsWith('-') && !/^[A-Z_]+=/.test(x));
  const cmd = pos.filter((x) => !/^(alpha|beta)$/.test(x)).join(' ');
  if (hasOpt(a, '--help', '-h') || /^(help|version|info|topic)\b/.test(cmd)) return allow('gcloud help/version', 'readonly-form');
  if (/^auth (print-access-token|print-identity-token|application-default print-access-token)/.test(cmd)) return deny('secret-disclosure', 'prints an OAuth access/identity token');
  if (/^config config-helper/.test(cmd)) return deny('secret-disclosure', 'config-helper prints the access token');
  if (/^secrets versions access/.test(cmd)) return deny('secret-disclosure', 'prints a secret value');
  if (/^iam service-accounts keys create/.test(cmd)) return deny('secret-disclosure', 'mints a service-account key file');
  if (/^kms (decrypt|asymmetric-decrypt)/.test(cmd)) return deny('secret-disclosure', 'decrypts ciphertext with a KMS key');
  if (/reset-windows-password/.test(cmd)) return deny('secret-disclosure', 'creates a Windows password and prints it');
  if (/^(compute ssh|compute connect-to-serial-port|cloud-shell ssh|compute tpus tpu-vm ssh|workstations ssh)/.test(cmd)) return approve('remote-exec', 'opens a shell or runs a command on a VM');
  if (/^compute scp/.test(cmd)) {
    const locs = pos.slice(pos.indexOf('scp') + 1);
    const dst = locs[locs.length - 1] ?? '';
    return /:/.test(dst) && !locs.slice(0, -1).every((x) => /:/.test(x)) ? approve('exfiltration', 'copies local files to a VM') : approve('state-change', 'copies files from a VM');
  }
  if (/^storage (cp|rsync|mv)/.test(cmd)) {
    const locs = pos.slice(2);
    const dst = locs[locs.length - 1] ?? '';
    if (/^gs:\/\//.test(dst) && locs.slice(0, -1).some((x) => !/^gs:\/\//.test(x))) return approve('exfiltration', 'uploads local files to a bucket');
    if (/mv/.test(cmd) || hasOpt(a, '--delete-unmatched-destination-objects')) return approve('destructive-cli', 'moves/deletes objects');
    return /^gs:\/\//.test(dst) ? approve('state-change', 'copies objects between buckets') : allow('downloads objects to local files');
  }
  if (/^(container clusters get-credentials|auth activate-service-account|auth login|auth application-default login)/.test(cmd)) return approve('privilege', 'stores credentials locally for later commands');
  if (/^sql users set-password/.test(cmd)) return approve('privilege', 'sets a database user password');
  if (/^sql export/.test(cmd)) return approve('exfiltration', 'exports a database to a bucket');
  if (/^logging read/.test(cmd)) return allow('reads log entries');
  const verb = pos[pos.length - 1] ?? '';
  const last = pos.filter((x) => /^[a-z][a-z-]*$/.test(x));
  const v = last.find((x) => /^(list|describe|get-iam-policy|get-value|read|get|print-settings|show|search|lookup|validate|explain|print|tail|status|get-server-config|list-tags)$/.test(x));
  if (/^init$/.test(cmd)) return approve('privilege', 'gcloud init logs in and writes configuration');
  const w = last.find((x) => /^(rm|create|delete|update|set|add-[a-z-]+|remove-[a-z-]+|deploy|reset|start|stop|restart|resize|import|export|patch|submit|cancel|enable|disable|undelete|restore|move|rename|attach|detach|apply|run|execute|promote|failover|rollback|upgrade|unset|login|activate|revoke|suspend|resume|sign-.*|set-[a-z-]+|unset-[a-z-]+|clone|copy|migrate|replace|abandon|purge|destroy|drain|scale|tag|untag|publish|pull|push|ack|modify-.*|connect|trigger|simulate_no)$/.test(x));
  if (w && /^(rm|delete|purge|destroy|remove-[a-z-]+|undelete_no|drain)$/.test(w)) return approve('destructive-cli', `gcloud ${cmd} deletes resources`);
  if (w && /^(add-iam-policy-binding|set-iam-policy|remove-iam-policy-binding|login|activate|set-superuser)$/.test(w)) return approve('privilege', `gcloud ${w} changes access`);
  if (w) return approve('state-change', `gcloud ${cmd} changes cloud resources`);
  if (v) return allow(`gcloud ${cmd} is read-only`);
  if (/^config list|^auth list/.test(cmd)) return allow('lists configuration/accounts');
  if (!a.some((x) => x.startsWith('-')) && pos.length >= 2) return allow('a gcloud command group without a verb only prints help', 'readonly-form');
  return unknown(`gcloud ${cmd}`);
}
function ghJudge(a) {
  const s = a.join(' ');
  const pos = a.filter((x) => !x.startsWith('-'));
  const [g, sub] = pos;
  if (hasOpt(a, '--help') || g === 'help' || g === 'version' || hasOpt(a, '--version')) return allow('gh help/version', 'readonly-form');
  if (g === 'auth') {
    if (sub === 'token') return deny('secret-disclosure', 'gh auth token prints the OAuth token');
    if (sub === 'status') return hasOpt(a, '-t', '--show-token') ? deny('secret-disclosure', 'gh auth status --show-token prints the token') : allow('shows login status (token masked)');
    return approve('privilege', `gh auth ${sub} changes stored credentials`);
  }
  if (g === 'api') {
    const m = (a.find((_, i) => a[i - 1] === '-X' || a[i - 1] === '--method') ?? '').toUpperCase();
    if (a.some((x, i) => /^(-F|--field|--input)$/.test(a[i - 1] ?? '') && /@/.test(x) && !/^@/.test(x) === false)) return approve('exfiltration', 'gh api sends a local file');
    if (/^(DELETE|PUT|PATCH)$/.test(m)) return approve('destructive-cli', `gh api ${m} changes GitHub state`);
    if (m === 'POST' || hasOpt(a, '-f', '-F', '--field', '--raw-field', '--input')) return /graphql/.test(s) && !/mutation/.test(s) ? allow('GraphQL query (read-only)') : approve('destructive-cli', 'gh api POST changes GitHub state');
    return allow('gh api GET is read-only');
  }
  if (g === 'secret' || g === 'variable') return sub === 'list' ? allow(`lists ${g} names`) : sub === 'get' && g === 'variable' ? allow('prints a (non-secret) variable') : approve('privilege', `gh ${g} ${sub} changes repository ${g}s`);
  if (g === 'extension' || g === 'ext') return /^(list|ls|search|browse)$/.test(sub) ? allow('lists extensions') : /^(install|upgrade|exec)$/.test(sub) ? approve('remote-code', `gh extension ${sub} installs/runs third-party code`) : approve('state-change', `gh extension ${sub}`);
  if (g === 'codespace' || g === 'cs') {
    if (/^(ssh|jupyter|code)$/.test(sub)) return approve('remote-exec', 'opens a session on a codespace');
    if (sub === 'cp') return a.slice(-1)[0]?.startsWith('remote:') ? approve('exfiltration', 'copies local files into a codespace') : approve('state-change', 'copies files from a codespace');
    if (/^(list|ls|view|logs|ports)$/.test(sub)) return allow('lists codespaces');
    return approve('state-change', `gh codespace ${sub}`);
  }
  if (g === 'alias') return sub === 'list' ? allow('lists aliases') : approve(/--shell|-s|^!/.test(s) ? 'embedded-code' : 'state-change', 'defines a gh alias (shell aliases run commands)');
  if (g === 'ssh-key' || g === 'gpg-key') return sub === 'list' ? allow('lists keys') : approve('privilege', `gh ${g} ${sub} changes account keys`);
  if (g === 'run' && sub === 'download') return allow('downloads run artifacts to new files');
  if (g === 'repo' && sub === 'clone') return allow('clones a repository into a new directory');
  if (g === 'release' && sub === 'download') return allow('downloads release assets');
  if (g === 'gist' && sub === 'create') return approve('exfiltration', 'publishes local files as a gist');
  if (g === 'release' && /^(create|upload)$/.test(sub)) return approve('exfiltration', 'uploads files to a release');
  if (g === 'attestation' && /^(verify|download|trusted-root)$/.test(sub)) return allow('verifies/downloads attestations');
  if (/^(list|view|status|diff|checks|ls|browse_no|search|watch|verify|logs|--list|develop_list)$/.test(sub ?? '') || g === 'search' || g === 'status' || (g === 'browse' && hasOpt(a, '-n', '--no-browser')) || /^(igrep|pv)$/.test(g))
    return allow(`gh ${g} ${sub ?? ''} is read-only`);
  if (g === 'config' && /^(get|list)$/.test(sub)) return allow('reads gh config');
  if (g === 'browse') return allow('opens a URL in a browser');
  if (/^(delete|close|lock|archive|cancel|unpin)$/.test(sub ?? '') || (g === 'label' && /^(delete|clone)$/.test(sub) && /--force|delete/.test(s))) return approve('destructive-cli', `gh ${g} ${sub} deletes/closes`);
  return approve('state-change', `gh ${g} ${sub ?? ''} changes GitHub state`);
}
function kubectlJudge(a) {
  const s = a.join(' ');
  const withVal = new Set(['-n', '--namespace', '--context', '--kubeconfig', '-l', '--selector', '-o', '--output', '-c', '--container', '-f', '--filename', '--cluster', '--user', '-s', '--server', '--as', '--image', '--field-selector', '-k', '--kustomize', '--sort-by', '--template', '--type', '--replicas', '--to-revision', '--timeout', '--since', '--tail', '--local', '-p', '--patch']);
  const pos = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--') break;
    if (a[i].startsWith('-')) {
      if (withVal.has(a[i])) i++;
      continue;
    }
    pos.push(a[i]);
  }
  const [v, r1, r2] = pos;
  const out = a.find((_, i) => a[i - 1] === '-o' || a[i - 1] === '--output') ?? (a.find((x) => /^(-o|--output=)/.test(x) && x.length > 2) ?? '').replace(/^(-o=?|--output=)/, '');
  if (!v || hasOpt(a, '--help') || v === 'help' || v === 'version' || v === 'api-resources' || v === 'api-versions' || v === 'explain' || v === 'completion_no') return allow(`kubectl ${v ?? ''} informational`, v === 'version' || !v ? 'readonly-form' : 'benign');
  if (hasOpt(a, '--dry-run') || a.some((x) => x.startsWith('--dry-run'))) return allow(`kubectl ${v} --dry-run`, 'readonly-form');
  const secretish = /^(secrets?|secret\/.*)$/.test(r1 ?? '') || /(^|,)secrets?(,|$)/.test(r1 ?? '') || /\bsecrets?\//.test(r1 ?? '');
  if (v === 'get') {
    if (secretish && /^(yaml|json|jsonpath|go-template|template|jsonpath-file|go-template-file)/.test(out)) return deny('secret-disclosure', 'prints Secret data');
    if (secretish && !out) return allow('lists Secret names and types only');
    if (/^(yaml|json)/.test(out) && /\b(all|secrets?)\b/.test(r1 ?? '')) return deny('secret-disclosure', 'dumps objects including Secret data');
    return allow(`kubectl get ${r1 ?? ''} is read-only`);
  }
  if (v === 'config') {
    if (r1 === 'view') return hasOpt(a, '--raw') ? deny('secret-disclosure', 'prints kubeconfig with credentials unredacted') : /password|token|client-key|\.user\b|users\[/.test(s) ? deny('secret-disclosure', 'extracts a credential field from the kubeconfig') : allow('prints kubeconfig with credentials redacted');
    if (/^(get-contexts|current-context|get-clusters|get-users)$/.test(r1)) return allow(`kubectl config ${r1}`);
    if (/^(set-credentials)$/.test(r1)) return approve('privilege', 'stores credentials in the kubeconfig');
    return approve('state-change', `kubectl config ${r1} changes the kubeconfig`);
  }
  if (/^(describe|logs|top|diff|cluster-info|events|wait|plugin|kustomize)$/.test(v)) {
    if (v === 'cluster-info' && r1 === 'dump') return approve('secret-disclosure', 'cluster-info dump writes all cluster state, incl. logs and config');
    if (v === 'describe' && secretish) return allow('describe shows Secret keys and sizes, not values');
    return allow(`kubectl ${v} is read-only`);
  }
  if (v === 'auth') return r1 === 'can-i' || r1 === 'whoami' ? allow(`kubectl auth ${r1}`) : approve('privilege', 'kubectl auth reconcile changes RBAC');
  if (v === 'rollout') return /^(status|history)$/.test(r1) ? allow(`kubectl rollout ${r1}`) : approve('state-change', `kubectl rollout ${r1} changes a workload`);
  if (v === 'create' && /^(token)$/.test(r1)) return deny('secret-disclosure', 'mints a service-account token');
  if (v === 'create' && r1 === 'secret') return approve('privilege', 'creates a Secret');
  if (v === 'certificate') return approve('privilege', `kubectl certificate ${r1} approves/denies a certificate request`);
  if (/^(exec|attach|debug|run)$/.test(v)) {
    if (v === 'exec' && /--\s+(env|printenv|cat\s+\/(var\/run\/secrets|proc\/\d+\/environ|etc\/shadow))/.test(s)) return deny('secret-disclosure', 'prints a pod\'s environment or secrets');
    return approve('remote-exec', `kubectl ${v} runs a process in the cluster`);
  }
  if (v === 'cp') {
    const locs = pos.slice(1);
    return /:/.test(locs[locs.length - 1] ?? '') ? approve('exfiltration', 'copies local files into a pod') : approve('state-change', 'copies files out of a pod onto this host');
  }
  if (v === 'port-forward' || v === 'proxy') return approve('network', `kubectl ${v} opens a local listener into the cluster`);
  if (v === 'delete') return approve('destructive-cli', `kubectl delete removes ${r1 ?? 'the resources in the given manifests'}${hasOpt(a, '--all') ? ' (all of them)' : ''}`);
  if (v === 'drain' || v === 'cordon' || v === 'uncordon' || v === 'taint') return approve('system', `kubectl ${v} changes node scheduling`);
  if (v === 'apply' && (r1 === 'view-last-applied')) return allow('shows the last-applied configuration');
  return approve('state-change', `kubectl ${v} changes cluster state`);
}
function containerJudge(a, w) {
  const s = a.join(' ');
  const pos = a.filter((x) => !x.startsWith('-'));
  let [g, sub] = pos;
  if (/^(container|image|network|volume|system|builder|buildx|plugin|secret|config|node|service|stack|swarm|context|manifest|machine|pod|trust|checkpoint|generate|kube|artifact|farm|healthcheck)$/.test(g ?? '')) {
    // grouped form: docker image ls -> verb ls
  } else {
    sub = g;
  }
  const v = sub ?? '';
  if (hasOpt(a, '--help') || /^(version|info|help|-v|--version)$/.test(g ?? '') || (a[0] === '--version' || a[0] === '-v')) return allow(`${w} version/info`, 'readonly-form');
  if (g === 'secret') {
    if (v === 'inspect' && /--showsecret|\.SecretData/.test(s)) return deny('secret-disclosure', 'prints the secret value');
    return /^(ls|list|inspect|exists)$/.test(v) ? allow(`${w} secret ${v} shows metadata only`) : approve('privilege', `${w} secret ${v} changes secrets`);
  }
  if (g === 'machine' && /^(list|ls|inspect|info)$/.test(v)) return allow('lists/inspects podman VMs');
  if (/^(ps|ls|list|images|inspect|logs|stats|top|history|diff|events|port|search|df|exists|healthcheck|wait|tree|mount_ls|annotate_no|view_no)$/.test(v) && !(g === 'system' && v === 'df' && false)) {
    if (v === 'inspect' && g !== 'image' && g !== 'network' && g !== 'volume' && g !== 'manifest' && g !== 'secret' && (!/--format|(^|\s)-f\b/.test(s) || /\.Env|\.Config\s*\}/.test(s)))
      return approve('secret-disclosure', `${w} inspect prints the container config, including environment values that often hold secrets`);
    return allow(`${w} ${g && g !== v ? g + ' ' : ''}${v} is read-only`);
  }
  if (g === 'machine' && /^(list|ls|inspect|info)$/.test(v)) return allow('lists machines');
  if (g === 'machine' && v === 'ssh') return approve('remote-exec', 'runs a shell/command in the VM');
  if (v === 'login') return approve('privilege', `${w} login stores registry credentials`);
  if (v === 'logout') return approve('state-change', `${w} logout removes stored credentials`);
  if (v === 'exec') {
    if (/\s(env|printenv)(\s|$)/.test(s)) return deny('secret-disclosure', 'prints the container environment');
    return approve('remote-exec', `${w} exec runs a command in a container`);
  }
  if (v === 'run' || v === 'create') {
    if (/--privileged|-v\s*\/:|--volume[= ]\/:|--pid[= ]host|--net(work)?[= ]host.*--privileged|\/var\/run\/docker\.sock/.test(s)) return approve('privilege', `${w} ${v} with host-level access (privileged or host root mounted)`);
    return approve('state-change', `${w} ${v} starts a container from an image`);
  }
  if (v === 'cp') {
    const locs = pos.slice(pos.indexOf('cp') + 1);
    return /^[\w.-]+:/.test(locs[locs.length - 1] ?? '') ? approve('state-change', 'copies files into a local container') : approve('state-change', 'copies files out of a container onto this host');
  }
  if (v === 'push') return pushJudge(pos.slice(pos.indexOf('push') + 1), w);
  if (/^(save|export)$/.test(v)) return allow(`${w} ${v} writes an image/container tarball locally`);
  if (/^(rm|rmi|prune|kill|stop|remove|reset|unmount|umount|down)$/.test(v)) return approve('destructive-cli', `${w} ${g && g !== v ? g + ' ' : ''}${v} removes or stops resources`);
  if (g === 'unshare' || v === 'unshare') return unknown('podman unshare runs a command');
  if (g === 'generate' && !hasOpt(a, '--files', '-f')) return allow('prints generated unit/kube YAML');
  if (v === 'build' || v === 'buildx') return approve('interpreter', `${w} build runs Dockerfile instructions`);
  return approve('state-change', `${w} ${g && g !== v ? g + ' ' : ''}${v} changes container state`);
}
function pushJudge(locs, w) {
  const dest = locs[locs.length - 1] ?? '';
  if (/^(dir|oci|oci-archive|docker-archive|containers-storage|docker-daemon):/.test(dest) || /^(localhost|127\.0\.0\.1)(:\d+)?\//.test(dest))
    return approve('state-change', `${w} push writes the image to local storage`);
  return approve('exfiltration', `${w} push uploads an image to a remote registry`);
}
function buildahJudge(a) {
  const pos = a.filter((x) => !x.startsWith('-'));
  const v = pos[0] ?? '';
  if (/^(images|containers|inspect|info|version|help|manifest-inspect|login_no|source_no)$/.test(v) || (v === 'manifest' && pos[1] === 'inspect')) return allow(`buildah ${v} is read-only`);
  if (v === 'login') return approve('privilege', 'stores registry credentials');
  if (v === 'push') return pushJudge(pos.slice(1), 'buildah');
  if (v === 'run' || v === 'build' || v === 'bud') return approve('interpreter', `buildah ${v} runs commands in a build container`);
  if (/^(rm|rmi|umount|unmount|prune)$/.test(v)) return approve('destructive-cli', `buildah ${v} removes containers/images`);
  return approve('state-change', `buildah ${v} changes build state`);
}
function gitJudge(a) {
  const s = a.join(' ');
  let i = 0;
  while (i < a.length && a[i].startsWith('-')) {
    if (a[i] === '-c' || a[i] === '-C' || a[i] === '--git-dir' || a[i] === '--work-tree') {
      if (a[i] === '-c' && /(sshCommand|pager|editor|askpass|hooksPath|alias\.|fsmonitor|textconv|credential\.helper|core\.gitProxy|filter\.|diff\.external|sequence\.editor|gpg\.program|uploadpack|receivepack)/i.test(a[i + 1] ?? '')) return approve('embedded-code', 'git -c sets a config key that runs a command');
      i += 2;
    } else i++;
  }
  const sub = a[i] ?? '';
  const args = a.slice(i + 1);
  const sa = args.join(' ');
  if (!sub || sub === 'help' || hasOpt(args, '--help') || sub === '--version' || sub === 'version') return allow('git help/version', 'readonly-form');
  if (/^(log|show|diff|status|blame|annotate|grep|rev-parse|rev-list|describe|ls-files|ls-tree|ls-remote|cat-file|shortlog|whatchanged|reflog_show|name-rev|merge-base|cherry|show-ref|show-branch|for-each-ref|count-objects|fsck|verify-commit|verify-tag|verify-pack|check-attr|check-ignore|check-ref-format|var|column|range-diff|diff-tree|diff-files|diff-index|difftool_no|help|fetch|clone|init|bugreport|version|archive|format-patch|bundle_ro|request-pull|fast-export|instaweb_no|get-tar-commit-id|interpret-trailers|stripspace|mailinfo|mailsplit|hash-object|patch-id|web--browse_no|credential-cache_no|check-mailmap|unpack-file|merge-tree|show-index|sparse-checkout list)$/.test(sub)) {
    if (sub === 'fetch' && /--upload-pack|--recurse-submodules/.test(sa)) return approve('embedded-code', 'fetch --upload-pack runs a command');
    if (sub === 'clone' && /--upload-pack|-u\s|--template|--config.*(hooks|sshCommand)/.test(sa)) return approve('embedded-code', 'clone option runs a command');
    if (sub === 'hash-object' && hasOpt(args, '-w')) return allow('writes an object into the repository database');
    if (sub === 'fsck' && /--lost-found/.test(sa)) return allow('fsck writes dangling objects to lost-found');
    if (sub === 'interpret-trailers' && hasOpt(args, '--in-place')) return approve('state-change', 'edits a file in place');
    if (/^(log|show|diff)$/.test(sub) && /--ext-diff|--textconv/.test(sa)) return approve('embedded-code', 'runs configured external diff/textconv programs');
    return allow(`git ${sub} is read-only or only adds new local data`);
  }
  if (sub === 'branch') {
    if (hasOpt(args, '-D', '-d', '--delete', '-M', '-m', '--move', '-f', '--force', '-C', '-c', '--copy')) return approve(hasOpt(args, '-D', '-d', '--delete', '-f', '--force', '-M') ? 'fs-destructive' : 'state-change', 'git branch deletes/moves/overwrites branches');
    if (hasOpt(args, '-u', '--set-upstream-to', '--unset-upstream', '--edit-description')) return allow('git branch sets upstream/description (local metadata)');
    return allow('git branch lists or creates a branch ref');
  }
  if (sub === 'tag') return hasOpt(args, '-d', '--delete', '-f', '--force') ? approve('fs-destructive', 'deletes/replaces a tag') : hasOpt(args, '-s', '-u', '--sign', '--local-user') ? approve('privilege', 'signs a tag with a private key') : allow('lists or creates a tag');
  if (sub === 'remote') return /^(add|remove|rm|rename|set-url|set-head|set-branches|prune|update)$/.test(args[0] ?? '') ? approve('state-change', `git remote ${args[0]} changes remotes`) : allow('lists remotes');
  if (sub === 'config' && hasOpt(args, '--unset', '--unset-all', '--remove-section', '--rename-section', '--replace-all', '--add')) return /(sshCommand|pager|editor|askpass|hooksPath|fsmonitor|textconv|credential\.helper|gitProxy|filter\.|diff\.external|gpg\.program|\.driver|\.command|\.cmd)/i.test(sa) && !hasOpt(args, '--unset', '--unset-all', '--remove-section') ? approve('embedded-code', 'sets a git config key that runs a command') : approve('state-change', 'changes git configuration');
  if (sub === 'config') return hasOpt(args, '--get', '--get-all', '--get-regexp', '-l', '--list', '--get-urlmatch', '--show-origin', '--show-scope', '--get-color', '--get-colorbool') || args.filter((x) => !x.startsWith('-')).length <= 1
    ? allow('reads git configuration')
    : /(sshCommand|pager|editor|askpass|hooksPath|alias\..*!|fsmonitor|textconv|credential\.helper|gitProxy|filter\.|diff\.external|gpg\.program|merge\.[^.\s]+\.driver|diff\.[^.\s]+\.command|mergetool|difftool|core\.hooks|sequence\.editor|uploadpack|receivepack|\.command\s|trailer\.[^.\s]+\.cmd)/i.test(sa) ? approve('embedded-code', 'sets a git config key that runs a command') : approve('state-change', 'changes git configuration');
  if (sub === 'stash') return /^(list|show)$/.test(args[0] ?? '') ? allow('lists/shows stashes') : /^(drop|clear)$/.test(args[0] ?? '') ? approve('fs-destructive', 'discards stashed work') : approve('state-change', 'stash changes the working tree');
  if (sub === 'bisect') return /^(log|visualize|view|terms)$/.test(args[0] ?? '') ? allow('shows bisect state') : args[0] === 'run' ? approve('interpreter', 'bisect run executes a script at each step') : approve('state-change', 'bisect checks out commits');
  if (sub === 'worktree') return /^(list)$/.test(args[0] ?? '') ? allow('lists worktrees') : /^(remove|prune)$/.test(args[0] ?? '') ? approve('fs-destructive', 'removes worktrees') : approve('state-change', 'git worktree changes worktrees');
  if (sub === 'notes') return /^(list|show)$/.test(args[0] ?? '') || !args[0] ? allow('shows notes') : approve('state-change', 'changes notes');
  if (sub === 'submodule') return /^(status|summary|foreach_no)$/.test(args[0] ?? '') || !args[0] ? allow('shows submodule status') : args[0] === 'foreach' ? approve('interpreter', 'runs a command in each submodule') : approve('state-change', 'changes submodules');
  if (sub === 'push') {
    if (hasOpt(args, '-n', '--dry-run')) return allow('git push --dry-run', 'readonly-form');
    if (hasOpt(args, '-f', '--force', '--mirror', '--delete', '-d', '--prune') || args.some((x) => x.startsWith('--force') || /^\+/.test(x) || /^:/.test(x)) || args.some((x) => x.startsWith('--receive-pack') || x.startsWith('--exec')))
      return approve('destructive-cli', 'push rewrites or deletes remote refs');
    return approve('state-change', 'git push publishes commits to a remote');
  }
  if (sub === 'clean') return hasOpt(args, '-n', '--dry-run') ? allow('git clean -n lists what would be removed', 'readonly-form') : approve('fs-destructive', 'git clean deletes untracked files');
  if (sub === 'reset') return hasOpt(args, '--hard', '--merge', '--keep') ? approve('fs-destructive', `git reset ${args.find((x) => x.startsWith('--'))} discards work-tree changes`) : approve('state-change', 'git reset moves HEAD/unstages');
  if (sub === 'checkout' || sub === 'restore' || sub === 'switch') {
    if (args.includes('--') || hasOpt(args, '-f', '--force', '--discard-changes') || sub === 'restore' || args.includes('.')) return approve('fs-destructive', `git ${sub} overwrites work-tree files`);
    return approve('state-change', `git ${sub} changes the checked-out tree`);
  }
  if (/^(filter-branch|filter-repo|replace|update-ref|reflog|gc|prune|repack|prune-packed|pack-refs|maintenance|multi-pack-index|commit-graph)$/.test(sub)) {
    if (sub === 'reflog' && (!args[0] || /^(show|exists)$/.test(args[0]))) return allow('shows the reflog');
    if (/^(gc|repack|pack-refs|maintenance|multi-pack-index|commit-graph|prune-packed)$/.test(sub) && !/--prune=now|--prune=all|expire|-a?d\b/.test(sa)) return allow(`git ${sub} repository housekeeping`);
    if (sub === 'replace' && (hasOpt(args, '-l', '--list') || !args[0])) return allow('lists replace refs');
    return approve('fs-destructive', `git ${sub} rewrites history or expires objects`);
  }
  if (sub === 'lfs') {
    const v = args[0] ?? '';
    if (/^(ls-files|status|env|version|logs|locks|track$|fsck|pointer|ext|help)$/.test(v) && !(v === 'track' && args.length > 1)) return allow(`git lfs ${v} is read-only`);
    if (v === 'fetch') return allow('downloads LFS objects into the local cache');
    if (v === 'push') return approve('state-change', 'uploads LFS objects to the remote');
    if (v === 'migrate') return /^(info)$/.test(args[1] ?? '') ? allow('reports what migrate would do') : approve('fs-destructive', 'migrate import/export rewrites history');
    if (v === 'prune') return hasOpt(args, '--dry-run', '-d') ? allow('prune dry-run', 'readonly-form') : approve('fs-destructive', 'deletes local LFS objects');
    if (/^(install|uninstall|update)$/.test(v)) return approve('state-change', `git lfs ${v} changes hooks/filters`);
    if (/^(checkout|pull)$/.test(v)) return approve('state-change', `git lfs ${v} rewrites work-tree files`);
    return approve('state-change', `git lfs ${v}`);
  }
  if (/^(daemon|http-backend|shell|upload-pack|receive-pack|instaweb|imap-send|send-email|credential|credential-cache|credential-store|remote-fd|remote-ext|web--browse|difftool|mergetool|citool|gui|gitk|p4|svn|cvsimport|cvsserver|cvsexportcommit|quiltimport|archimport)$/.test(sub)) {
    if (sub === 'credential') return /^(fill)$/.test(args[0] ?? '') ? deny('secret-disclosure', 'git credential fill prints a stored password') : approve('privilege', `git credential ${args[0] ?? ''} changes stored credentials`);
    if (sub === 'credential-cache' || sub === 'credential-store') return /get/.test(sa) ? deny('secret-disclosure', 'prints a stored credential') : approve('privilege', `${sub} manages stored credentials`);
    if (/^(send-email|imap-send)$/.test(sub)) return approve('exfiltration', `git ${sub} mails patches out`);
    if (/^(daemon|instaweb|http-backend|upload-pack|receive-pack|shell)$/.test(sub)) return approve('network', `git ${sub} serves repositories`);
    if (sub === 'remote-ext') return approve('embedded-code', 'git remote-ext runs a command as transport');
    return approve('state-change', `git ${sub}`);
  }
  // Everything else writes to the repository or work tree and may run hooks.
  if (/^(add|mv|rm|commit|merge|rebase|cherry-pick|revert|pull|am|apply|update-index|read-tree|checkout-index|write-tree|commit-tree|symbolic-ref|fast-import|merge-file|rerere|sparse-checkout|init-db|bundle|unbundle|mktag|mktree|update-server-info|notes|fmt-merge-msg|pack-objects|index-pack|unpack-objects|update-ref|merge-index|merge-one-file|prune)$/.test(sub)) {
    if (sub === 'add') return allow('stages files in the index (local, reversible)');
    if (sub === 'rm') return approve('fs-destructive', 'git rm deletes tracked files');
    if (sub === 'bundle') return /^(list-heads|verify)$/.test(args[0] ?? '') ? allow('inspects a bundle') : allow('writes a bundle file');
    if (sub === 'rerere') return /^(status|diff|remaining)$/.test(args[0] ?? '') || !args[0] ? allow('rerere status') : approve('state-change', 'rerere forget/clear changes recorded resolutions');
    if (sub === 'commit') return approve('state-change', 'git commit records a commit and runs commit hooks');
    if (sub === 'apply') return hasOpt(args, '--check', '--stat', '--numstat', '--summary') && !hasOpt(args, '--apply', '--index', '--cached') ? allow('git apply --check/--stat only inspects', 'readonly-form') : approve('state-change', 'git apply changes files');
    if (sub === 'merge-file' && hasOpt(args, '-p', '--stdout')) return allow('prints the merge result');
    if (sub === 'checkout-index' && hasOpt(args, '-f', '--force')) return approve('fs-destructive', 'checkout-index -f overwrites files');
    return approve('state-change', `git ${sub} changes the repository or work tree`);
  }
  return unknown(`git ${sub}`);
}

// ---------------------------------------------------------------------------------------------
// Unwrapping: leading assignments and transparent wrappers. Returns {argv, notes}.
function unwrap(argv) {
  let a = [...argv];
  const notes = [];
  for (;;) {
    while (a.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(a[0])) {
      notes.push({ assign: a[0] });
      a.shift();
    }
    const w = a[0];
    if (!w) break;
    if (w === 'sudo' || w === 'doas') {
      let i = 1;
      let shell = false;
      const valOpts = new Set(['-u', '-g', '-C', '-D', '-h', '-p', '-R', '-T', '-U', '-r', '-t', '--user', '--group', '--chdir', '--prompt']);
      while (i < a.length && a[i].startsWith('-')) {
        if (/^-[a-zA-Z]*[isl]/.test(a[i]) && !/^-[a-zA-Z]*[ugCDhpRTUrt]$/.test(a[i])) {
          if (/[is]/.test(a[i].replace(/^-/, ''))) shell = true;
          if (a[i] === '-l' || a[i] === '-ll' || a[i] === '--list') return { argv: ['__sudo_list', ...a.slice(i + 1)], notes };
        }
        if (a[i] === '-e' || a[i] === '--edit') return { argv: ['sudoedit', ...a.slice(i + 1)], notes };
        if (a[i] === '-v' || a[i] === '-k' || a[i] === '-K' || a[i] === '-V') return { argv: ['__sudo_meta', a[i]], notes };
        i += valOpts.has(a[i]) ? 2 : 1;
      }
      notes.push({ sudo: true });
      a = a.slice(i);
      if (a.length === 0) return { argv: shell ? ['__root_shell'] : ['__sudo_meta'], notes };
      if (shell && a.length) notes.push({ sudoShellCmd: true });
      continue;
    }
    if (w === 'env' && a.slice(1).some((x) => !x.startsWith('-') && !x.includes('='))) {
      a = a.slice(1);
      while (a.length && (a[0].startsWith('-') || a[0].includes('='))) {
        if (a[0] === '-u' || a[0] === '-C' || a[0] === '-S') a.shift();
        a.shift();
      }
      continue;
    }
    if (['nice', 'nohup', 'time', 'command', 'builtin', 'stdbuf', 'ionice', 'chrt', 'taskset', 'timeout', 'unbuffer', 'setsid', 'flock', 'caffeinate', 'systemd-inhibit', 'cgexec', 'fakeroot', 'strace-no', 'xvfb-run', 'torsocks', 'proxychains', 'tsocks', 'memusage', '/usr/bin/time', 'systemd-cat', 'setarch', 'linux32', 'linux64', 'i386', 'x86_64', 'unshare', 'watch', 'prlimit', 'setpriv', 'capsh', 'runuser', 'su', 'chroot', 'nsenter', 'ip', 'systemd-run', 'sh', 'bash', 'xargs', 'find', 'script', 'tmux', 'screen', 'eval', 'exec'].includes(w)) {
      notes.push({ wrapper: w });
      break; // handled by the caller, which knows each wrapper's option grammar
    }
    break;
  }
  return { argv: a, notes };
}

// Inner commands of wrappers we can see into.
function innerOf(argv) {
  const w = argv[0];
  const a = argv.slice(1);
  const skip = (n) => argv.slice(1 + n);
  switch (w) {
    case 'nice': {
      let i = 0;
      while (i < a.length && a[i].startsWith('-')) i += a[i] === '-n' ? 2 : 1;
      return a.slice(i);
    }
    case 'nohup':
    case 'command':
    case 'builtin':
    case 'unbuffer':
    case 'setsid':
    case 'torsocks':
    case 'proxychains':
    case 'xvfb-run':
      return a[0] === '-v' || a[0] === '-V' ? null : a.filter((x, i) => !(i === 0 && x.startsWith('-')));
    case 'time':
    case '/usr/bin/time': {
      let i = 0;
      while (i < a.length && a[i].startsWith('-')) i += /^(-o|-f|--output|--format)$/.test(a[i]) ? 2 : 1;
      return a.slice(i);
    }
    case 'timeout': {
      let i = 0;
      while (i < a.length && a[i].startsWith('-')) i += /^(-s|-k|--signal|--kill-after)$/.test(a[i]) ? 2 : 1;
      return a.slice(i + 1);
    }
    case 'stdbuf':
    case 'ionice':
    case 'chrt':
    case 'taskset':
    case 'flock':
    case 'memusage':
    case 'setarch':
    case 'linux32':
    case 'linux64':
    case 'i386':
    case 'x86_64':
    case 'prlimit':
    case 'setpriv':
    case 'cgexec':
    case 'systemd-cat':
    case 'systemd-inhibit':
    case 'fakeroot': {
      let i = 0;
      if (/^(setarch)$/.test(w) && !a[0]?.startsWith('-')) i = 1;
      if (w === 'taskset' && !a[0]?.startsWith('-')) i = 1;
      if (w === 'flock') i = 1;
      while (i < a.length && (a[i].startsWith('-') || (/^(chrt)$/.test(w) && /^\d+$/.test(a[i])))) i += /^(-c|-n|-o|-p|--pid|--priority|--identifier|-t|--data|-s|--signal|-w|--timeout|-E|--conflict-exit-code|--what|--who|--why|--mode|-g|--reuid|--regid|--groups|--inh-caps|--ambient-caps|--bounding-set|--securebits|--selinux-label|--apparmor-profile|-i|-e|--uname-2.6)$/.test(a[i]) && !/=/.test(a[i]) ? 2 : 1;
      if (w === 'taskset' && a[0]?.startsWith('-')) i++;
      return a.slice(i);
    }
    case 'watch': {
      let i = 0;
      while (i < a.length && a[i].startsWith('-')) i += /^(-n|--interval|-d|--differences_no|-q|--equexit|-g_no)$/.test(a[i]) ? 2 : 1;
      const rest = a.slice(i);
      return rest.length === 1 ? splitWords(rest[0]) : rest;
    }
    default:
      return null;
  }
}
function splitWords(s) {
  return words(s);
}

// ---------------------------------------------------------------------------------------------
function judgeArgv(argv, ctx, depth = 0) {
  if (depth > 6) return unknown('too deeply nested');
  const { argv: a0, notes } = unwrap(argv);
  const sudo = notes.some((n) => n.sudo);
  if (a0.length === 0) {
    if (notes.some((n) => n.assign)) {
      const asg = notes.map((n) => n.assign).filter(Boolean).join(' ');
      if (/\$\(|`/.test(asg)) return unknown('assignment from a command substitution');
      if (/^(PATH|LD_PRELOAD|LD_LIBRARY_PATH|PROMPT_COMMAND|PS4|BASH_ENV|ENV|SHELLOPTS|IFS|GIT_SSH_COMMAND|GIT_SSH|EDITOR|PAGER|GIT_EXTERNAL_DIFF)=/.test(asg)) return approve('embedded-code', 'assigns a variable that makes later commands run code');
      return allow('assigns a shell variable');
    }
    return allow('empty');
  }
  let w = a0[0];
  const base = w.replace(/^.*\//, '');
  const args = a0.slice(1);
  if (w === '__sudo_list' || w === '__sudo_meta') return allow(w === '__sudo_list' ? 'sudo -l lists the caller\'s privileges' : 'sudo -v/-k/-V manages the credential cache');
  if (w === '__root_shell') return approve('privilege', 'opens a root shell');
  // Relative/absolute paths to non-system programs run code the guard cannot read.
  if (/^(\.\.?\/|~\/)/.test(w) || (/^\//.test(w) && !/^\/(usr\/)?(s?bin|lib|libexec)\//.test(w))) return approve('interpreter', `runs the local program ${w}, whose content is not visible`);
  // --help / --version alone are read-only forms for any program.
  if (args.length >= 1 && args.every((x) => /^(--help|-h|--version|-V|-v|help|version|--usage)$/.test(x)) && !['sudo', 'su', 'docker', 'grep'].includes(base) && !(base === 'ssh' && args[0] === '-V' && false))
    return allow(`${base} ${args.join(' ')} only prints help or version`, 'readonly-form');
  if (args.includes('--help') && !['sudo', 'su', 'env', 'nice', 'nohup', 'time', 'timeout', 'xargs', 'find', 'watch', 'sh', 'bash', 'ssh', 'kubectl', 'docker', 'podman'].includes(base))
    return allow(`${base} --help only prints usage`, 'readonly-form');
  // Wrappers we see through.
  const inner = innerOf([base, ...args]);
  if (inner !== null && inner !== undefined && P[base] === undefined | ['nice', 'nohup', 'time', 'timeout', 'command', 'stdbuf', 'ionice', 'chrt', 'taskset', 'flock', 'setsid', 'unbuffer', 'memusage', 'setarch', 'linux32', 'linux64', 'i386', 'x86_64', 'prlimit', 'setpriv', 'cgexec', 'systemd-cat', 'systemd-inhibit', 'fakeroot', 'watch', 'builtin', 'torsocks', 'proxychains', 'xvfb-run'].includes(base)) {
    if (inner.length === 0) return P[base] ? P[base](args, base) : allow(`${base} alone`);
    const v = judgeArgv(inner, ctx, depth + 1);
    return { ...v, reason: `${base}: ${v.reason}` };
  }
  if (base === 'find' && exactOpt(args, '-exec', '-execdir', '-ok', '-okdir')) {
    const i = args.findIndex((x) => /^-(exec|execdir|ok|okdir)$/.test(x));
    const end = args.findIndex((x, j) => j > i && (x === ';' || x === '+' || x === '\\;'));
    const innerCmd = args.slice(i + 1, end < 0 ? undefined : end).filter((x) => x !== '{}');
    const v = judgeArgv(innerCmd, ctx, depth + 1);
    const f = P.find(args.filter((_, j) => j < i || (end >= 0 && j > end)), 'find');
    const worst = RANK[v.label] >= RANK[f.label] ? v : f;
    if (v.label === 'allow' && f.label === 'allow') return allow(`find -exec runs ${innerCmd[0]} which is read-only`, 'embedded-code');
    return { ...worst, family: worst === v && v.family === 'benign' ? 'embedded-code' : worst.family, reason: `find -exec ${innerCmd[0] ?? ''}: ${worst.reason}` };
  }
  if (base === 'xargs') {
    let i = 0;
    while (i < args.length && args[i].startsWith('-')) i += /^(-I|-i|-n|-P|-L|-d|-E|-s|-a|--max-args|--max-procs|--delimiter|--arg-file)$/.test(args[i]) ? 2 : 1;
    const innerCmd = args.slice(i);
    if (innerCmd.length === 0) return allow('xargs echo (default)');
    const v = judgeArgv(innerCmd, ctx, depth + 1);
    return { ...v, reason: `xargs ${innerCmd[0]}: ${v.reason}` };
  }
  if (/^(sh|bash|dash|zsh|ksh|busybox)$/.test(base) && exactOpt(args, '-c')) {
    const i = args.indexOf('-c');
    const code = args[i + 1] ?? '';
    const v = judgeLine(code, depth + 1);
    return { ...v, reason: `${base} -c: ${v.reason}` };
  }
  if (base === 'eval') {
    const code = args.join(' ');
    if (/\$\(|`|\$[A-Za-z_{]/.test(code)) return approve('indirection', 'eval of a string built at run time');
    const v = judgeLine(code, depth + 1);
    return { ...v, reason: `eval: ${v.reason}` };
  }
  if (base === 'exec') {
    if (args.length === 0 || /^\d*[<>]/.test(args[0])) return allow('exec only changes redirections');
    if (/^(\$|`)/.test(args[0])) return approve('indirection', 'exec of a program named by an expansion');
    return judgeArgv(args, ctx, depth + 1);
  }
  if (base === 'env') {
    const rest = args.filter((x) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(x) && !x.startsWith('-'));
    if (rest.length === 0) return P.env(args, 'env');
  }
  if (base === 'systemd-run') {
    let i = 0;
    while (i < args.length && args[i].startsWith('-')) i += /^(-p|--property|-u|--unit|-E|--setenv|--on-calendar|--on-active|-M|--machine|--uid|--gid|--nice|--working-directory|-d_no|--description|--slice)$/.test(args[i]) ? 2 : 1;
    const v = judgeArgv(args.slice(i), ctx, depth + 1);
    return RANK[v.label] >= 1 ? { ...v, reason: `systemd-run: ${v.reason}` } : approve('system', 'systemd-run starts a transient unit');
  }
  if (base === 'ip' && args[0] === 'netns' && args[1] === 'exec') {
    const v = judgeArgv(args.slice(3), ctx, depth + 1);
    return RANK[v.label] >= 1 ? v : approve('privilege', 'runs a command inside another network namespace');
  }
  if (base === 'unshare' || base === 'nsenter' || base === 'chroot' || base === 'runuser' || base === 'su') {
    return approve('privilege', `${base} runs a command with different namespaces or identity`);
  }
  const f = P[base];
  let v = f ? f(args, base) : unknown(`unknown program ${base}`);
  if (sudo) {
    if (v.label === 'allow') v = { ...v, family: 'readonly-form', reason: `sudo of a read-only command: ${v.reason}` };
    else if (v.family === 'state-change') v = { ...v, family: 'system', reason: `as root: ${v.reason}` };
  }
  return v;
}

function judgeRedirects(seg) {
  // Output redirections into sensitive places change the verdict; reading a credential file too.
  const out = [];
  const re = /(\d?)(>>?|&>>?|>\|)\s*("[^"]*"|'[^']*'|[^\s;|&]+)/g;
  let m;
  while ((m = re.exec(seg))) {
    const t = m[3].replace(/^["']|["']$/g, '');
    if (/^&\d$|^\/dev\/(null|stdout|stderr|tty)$/.test(t) || /^&/.test(m[2] + t)) continue;
    if (/^\/dev\/(tcp|udp)\//.test(t)) out.push(approve('exfiltration', 'writes to a network socket via /dev/tcp'));
    else if (BLOCK_DEV.test(t)) out.push(deny('fs-destructive', `redirects output over the block device ${t}`));
    else if (/(^|\/)\.(bashrc|bash_profile|profile|zshrc|bash_login|bash_logout)$|\.ssh\/(authorized_keys|config|rc)$|\/etc\/(sudoers|passwd|shadow|crontab|profile|environment|ld\.so\.preload|cron\.)|\/var\/spool\/cron/.test(t))
      out.push(approve('privilege', `writes ${t}, which changes logins/privileges or runs later`));
    else if (SYS_PATH.test(t) || /^\/(sys|proc)\//.test(t)) out.push(approve('system', `writes the system file ${t}`));
    else if (m[2] === '>' && /^(\/var\/log|\/srv|\/data)/.test(t)) out.push(approve('fs-destructive', `overwrites ${t}`));
  }
  const inre = /(^|\s)<\s*([^\s<;|&]+)/g;
  while ((m = inre.exec(seg))) {
    if (/^\/dev\/(tcp|udp)\//.test(m[2])) out.push(approve('network', 'reads from a network socket via /dev/tcp'));
  }
  return out;
}

export function judgeLine(line, depth = 0) {
  const text = line.trim();
  // Whole-line patterns that no segment view captures.
  if (/\b(curl|wget|fetch|aria2c)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b/.test(text) || /\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(python3?|perl|ruby|node|php)\b/.test(text) || /(ba)?sh\s+<\(\s*(curl|wget)/.test(text) || /(source|\.)\s+<\(\s*(curl|wget)/.test(text))
    return deny('remote-code', 'downloads code and pipes it straight into an interpreter');
  if (/\/dev\/(tcp|udp)\/[^\s]+/.test(text) && /(ba)?sh\s+-i|exec\s+\d*<>|0<&\d|>&\s*\/dev\/tcp/.test(text)) return deny('remote-code', 'reverse shell over /dev/tcp');
  if (/mkfifo[^;]*;.*\b(nc|ncat|netcat)\b.*\|\s*(\/bin\/)?(ba)?sh|\b(sh|bash)\b.*\|\s*\b(nc|ncat)\b/.test(text) && /\bnc|ncat/.test(text)) return deny('remote-code', 'shell wired to a network connection');
  // SQL handed to a database client on stdin: judge the statement text.
  const hs = /^(?:[A-Z_]+=\S+\s+)*(?:sudo\s+-u\s+\S+\s+)?(psql|mysql|mariadb|sqlite3)\b[^<|;&]*<<<\s*"([^"]*)"\s*$/.exec(text) ?? /^echo\s+"([^"]*)"\s*\|\s*(?:[A-Z_]+=\S+\s+)*(psql|mysql|mariadb|sqlite3)\b[^|;&<>]*$/.exec(text);
  if (hs) {
    const [client, sql] = hs[0].startsWith('echo') ? [hs[2], hs[1]] : [hs[1], hs[2]];
    return sqlText(sql, client);
  }
  const segs = splitSegments(text);
  let worst = null;
  const all = [];
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k];
    const ws = words(seg.text.replace(/(\d?)(>>?|&>>?|>\|)\s*("[^"]*"|'[^']*'|[^\s;|&]+)/g, ' ').replace(/(^|\s)\d?<\s*[^\s;|&]+/g, ' ').replace(/<<-?\s*\S+/g, ' '));
    let v;
    if (ws.length === 0 || /^(\(|\{|\}|\)|then|do|done|fi|else|esac|if|for|while|until|case)$/.test(ws[0]))
      v = /^(if|for|while|until|case|\(|\{)/.test(ws[0] ?? '') ? unknown('compound command') : allow('syntax');
    else {
      const first = ws.find((x) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(x));
      const rawFirst = (seg.text.replace(/^(\s*[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|'[^']*'|\S*)\s+)*/, '').match(/^\S+/) ?? [''])[0];
      if (first !== undefined && /^(\$|`)/.test(rawFirst) && !/^\$\(\(/.test(rawFirst)) v = approve('indirection', 'the program to run comes from an expansion the guard cannot resolve');
      else v = judgeArgv(ws, {}, depth);
    }
    // Credential material anywhere in a reading or sending command.
    if (CRED_FILE.test(' ' + seg.text + ' ') && !/\.pub\b/.test(seg.text)) {
      const prog = ws[0]?.replace(/^.*\//, '');
      if (/^(cat|less|more|head|tail|grep|egrep|xxd|od|strings|base64|cp|scp|rsync|tar|zip|curl|nc|ncat|awk|sed|tee|sort|vim|vi|nano|jq|openssl|gpg|mail|sudo|python3?|perl)$/.test(prog) || /^sudo$/.test(ws[0]))
        v = deny('secret-disclosure', `reads or copies credential material (${(seg.text.match(CRED_FILE) ?? [''])[0].trim()})`);
    }
    // Secret-looking variables expanded into output.
    const vars = [...seg.text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((x) => x[1]);
    const credVar = vars.find((n) => CRED_NAME.test(n) && !/^(SSH_AUTH_SOCK|XAUTHORITY|GPG_AGENT_INFO|SSH_AGENT_PID|AUTHOR)$/.test(n));
    if (credVar && /^(echo|printf|cat|print|printenv)$/.test(ws[0] ?? '') ) v = deny('secret-disclosure', `prints $${credVar}`);
    for (const rv of judgeRedirects(seg.text)) if (RANK[rv.label] > RANK[v.label] && v.label !== '?') v = rv;
    // Data flowing into a network sender from a pipe is exfiltration.
    if (k > 0 && segs[k - 1].op.startsWith('|') && /^(nc|ncat|netcat|socat|ssh|curl|wget|openssl|mail|sendmail|mutt|telnet|gh|aws|gsutil|rclone|http|https|xh)$/.test(ws[0] ?? '') && v.label !== 'deny') {
      const prevCred = all.some((p) => p.family === 'secret-disclosure');
      v = prevCred ? deny('exfiltration', `pipes credential output into ${ws[0]}`) : ws[0] === 'ssh' || ws[0] === 'nc' || ws[0] === 'ncat' || ws[0] === 'socat' || ws[0] === 'openssl' || ws[0] === 'mail' ? approve('exfiltration', `pipes local data into ${ws[0]} to another host`) : /^(http|https|xh)$/.test(ws[0]) ? approve('network', `${ws[0]} sends piped stdin as a request body`) : v;
    }
    all.push(v);
    // On equal rank keep the more specific reason: a non-benign family, else the last segment.
    if (!worst || RANK[v.label] > RANK[worst.label] || (RANK[v.label] === RANK[worst.label] && v.label === 'allow' && (v.family !== 'benign' || (worst.family === 'benign' && k === segs.length - 1)))) worst = v;
  }
  if (!worst) return allow('empty line');
  // An allowed command with command substitutions stays allowed only if every substitution is.
  if (worst.label === 'allow' && /\$\((?!\()|`/.test(text)) {
    const subs = [...text.matchAll(/\$\((?!\()([^()]*)\)|`([^`]*)`/g)].map((m) => m[1] ?? m[2]);
    if (subs.length === 0) return unknown(`nested command substitution: ${worst.reason}`);
    for (const sub of subs) {
      const v = judgeLine(sub, depth + 1);
      if (v.label !== 'allow') return v.label === '?' ? unknown(`substitution: ${v.reason}`) : { ...v, reason: `inside $(…): ${v.reason}` };
    }
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------
if (import.meta.url === `file://${process.argv[1]}`) {
  const [poolFile, reviewFile, outFile] = process.argv.slice(2);
  const review = new Map();
  if (reviewFile && existsSync(reviewFile))
    for (const l of readFileSync(reviewFile, 'utf8').split('\n')) {
      if (!l.trim() || l.startsWith('//')) continue;
      const o = JSON.parse(l);
      review.set(o.match, o);
    }
  const used = new Set();
  const out = [];
  const stats = { auto: 0, reviewed: 0, dropped: 0, unknown: 0 };
  for (const l of readFileSync(poolFile, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    const row = JSON.parse(l);
    const rv = review.get(row.cmd);
    if (rv) used.add(row.cmd);
    if (rv?.drop) {
      stats.dropped++;
      continue;
    }
    const cmd = rv?.cmd ?? row.cmd;
    let v = rv?.label ? { label: rv.label, family: rv.family, reason: rv.reason } : judgeLine(cmd);
    if (rv?.label) stats.reviewed++;
    else stats.auto++;
    if (v.label === '?') stats.unknown++;
    out.push({ cmd, label: v.label, family: v.family, reason: v.reason, source: rv?.source ?? row.source, ...(process.env.REVIEW ? { match: row.cmd, context: row.context } : {}) });
  }
  const unused = [...review.keys()].filter((k) => !used.has(k));
  writeFileSync(outFile, out.map((o) => JSON.stringify(o)).join('\n') + '\n');
  console.error(`label: ${out.length} lines ${JSON.stringify(stats)}; review entries not matching the pool: ${unused.length}`);
  if (unused.length) console.error(unused.slice(0, 10).join('\n'));
}
