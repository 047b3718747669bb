import type { View } from './argv.js';
import type { RuleEnv } from './rules-fs.js';
import {
  chmodRule,
  ddRule,
  diskToolRule,
  emptyWriteRule,
  fallocateRule,
  findRule,
  mkfsRule,
  rmRule,
  shredRule,
  writeTargetsRule,
} from './rules-fs.js';
import { optionCommandRule, pathProgramRule, runnerRule, shellRule, sourceRule } from './rules-exec.js';
import {
  cloudUploadRule,
  curlRule,
  dynamicTargetRule,
  httpieRule,
  rawNetRule,
  remoteCopyRule,
  sshInputRule,
  wgetRule,
} from './rules-net.js';
import {
  archiveRule,
  credentialCliRule,
  envRule,
  envsubstRule,
  findCredentialsRule,
  grepRule,
  jqRule,
  printenvRule,
  printVarsRule,
  psRule,
  readerRule,
  setRule,
  xargsFileRule,
} from './rules-secrets.js';
import {
  awkRule,
  cloudRule,
  containerRule,
  crontabRule,
  dbAdminRule,
  dbClientRule,
  firewallRule,
  gitRule,
  interpreterRule,
  INTERPRETERS,
  ipRule,
  killRule,
  MISC_APPROVE,
  netRule,
  packageRule,
  powerRule,
  sedRule,
  serviceRule,
  systemctlRule,
  tarRule,
  userRule,
} from './rules-sys.js';
import type { Finding } from './types.js';
import { SHELLS } from './wrappers.js';

/** Program name -> built-in rule. A program with no entry has no built-in concern. */
export type BuiltinRule = (v: View, env: RuleEnv) => Finding[];

const table = new Map<string, BuiltinRule>();
/**
 * Registers `r` for each name; a name registered twice runs every rule given for it (families
 * add to each other: `curl` is an HTTP client, an uploader and a reader of `file://` URLs).
 */
const add = (names: string, r: BuiltinRule): void => {
  for (const n of names.split(/\s+/)) {
    if (!n) continue;
    const prev = table.get(n);
    table.set(n, prev ? (v, e) => [...prev(v, e), ...r(v, e)] : r);
  }
};

/* ---- filesystem and disks ---- */
add('rm unlink rmdir srm', (v, e) => rmRule(v, e));
add('shred wipe', (v) => shredRule(v));
add('dd', (v) => ddRule(v));
add(
  'mkfs mkfs.ext2 mkfs.ext3 mkfs.ext4 mkfs.xfs mkfs.btrfs mkfs.vfat mkfs.fat mkfs.ntfs mkfs.exfat mke2fs mkswap newfs',
  (v) => mkfsRule(v),
);
add('fdisk sfdisk cfdisk gdisk sgdisk parted partprobe wipefs blkdiscard hdparm', (v) => diskToolRule(v));
add('chmod chown chgrp', chmodRule);
add('tee truncate cp mv install ln rsync scp touch mkdir', writeTargetsRule);
add('fallocate', fallocateRule);
add('sed', (v, e) => [...sedRule(v), ...writeTargetsRule(v, e)]);
add('find', (v) => [...findRule(v), ...findCredentialsRule(v)]);
// Destroying a file's content without rm: `: > f`, `echo -n > f`, `cat /dev/null > f`.
add(': true false echo printf cat', (v) => (v.sc.redirects.length ? emptyWriteRule(v) : []));

/* ---- system ---- */
add('shutdown reboot halt poweroff init telinit', (v) => powerRule(v));
add('systemctl', (v) => systemctlRule(v));
add('service', (v) => serviceRule(v));
add('kill killall pkill skill slay xkill', (v) => killRule(v));
add('iptables ip6tables iptables-restore ip6tables-restore iptables-nft ufw nft firewall-cmd', (v) => firewallRule(v));
add('crontab', (v) => crontabRule(v));
add(
  'apt apt-get aptitude yum dnf zypper pacman apk dpkg rpm snap flatpak brew port pip pip3 gem cargo npm pnpm yarn',
  (v) => packageRule(v),
);
add(
  'passwd chpasswd usermod userdel useradd adduser deluser groupdel groupmod groupadd chage gpasswd vipw vigr newusers',
  (v) => userRule(v),
);
add('git', (v) => gitRule(v));
add(
  'psql mysql mariadb sqlite3 clickhouse-client clickhouse cockroach mongo mongosh redis-cli cqlsh sqlcmd duckdb mycli usql vsql trino presto snowsql spark-sql hive beeline impala-shell influx pgcli bq',
  (v) => dbClientRule(v),
);
add('dropdb dropuser mysqladmin pg_ctl', (v) => dbAdminRule(v));
add('docker podman nerdctl docker-compose kubectl oc helm terraform tofu terragrunt pulumi', (v) => containerRule(v));
add('aws gcloud az doctl gsutil fly flyctl heroku vercel netlify', (v) => cloudRule(v));
add('nc ncat netcat nc.traditional nc.openbsd socat', (v) => netRule(v));
add('awk gawk mawk nawk', (v, e) => awkRule(v, e));
add('tar', (v) => tarRule(v));
for (const m of MISC_APPROVE) add(m, (v) => ipRule(v));

/* ---- code the guard cannot read (issue 14 item 3) and options that run commands (item 0) ---- */
for (const s of SHELLS) add(s, shellRule);
add('source .', sourceRule);
add(
  'make gmake bmake pmake remake just rake gradle gradlew mvn mvnw ant npm pnpm yarn npx pnpx bunx uvx pipx go cargo dotnet pytest py.test tox nox nosetests behave trial jest vitest mocha phpunit rspec ctest composer mix sbt lein stack cabal swift dune bazel bazelisk meson scons ninja cmake zig java',
  runnerRule,
);
add(
  'zip gdb lldb man less more most rsync scp sftp sort tar gtar bsdtar git vi vim nvim ex view rvim gvim vimdiff emacs strace ltrace wget',
  (v, env) => optionCommandRule(v, env),
);

/* ---- secret disclosure (issue 14 item 1) ---- */
add('echo printf print cat tee', printVarsRule);
add('printenv', printenvRule);
add('env', (v) => envRule(v));
add('set', (v) => setRule(v));
add('ps', (v) => psRule(v));
add('jq yq gojq jaq', jqRule);
add('envsubst', envsubstRule);
add(
  'aws gcloud az gh kubectl oc helm vault bao docker podman nerdctl npm pnpm yarn heroku doppler op pass gopass bw lpass secret-tool security keyring gpg gpg2 age rage sops ansible-vault systemd-creds git terraform tofu consul etcdctl doctl xauth borg borgbackup pg_dumpall systemctl busctl dbus-monitor',
  credentialCliRule,
);
add(
  'cat tac head tail less more most bat batcat nl od xxd hexdump strings base64 base32 cut sort uniq diff comm paste fold fmt column rev iconv vi vim nvim view nano emacs jq yq openssl gpg sqlite3 duckdb',
  (v) => readerRule(v),
);
add('tar gtar bsdtar zip 7z 7za 7zr cpio cp rsync scp pax zstd gzip xz bzip2 install', (v) => archiveRule(v));
add('grep egrep fgrep rg ag ack', (v) => grepRule(v));
add('xargs', (v) => xargsFileRule(v));

/* ---- data leaving the host (item 2) and HTTP through CLIs (item 5) ---- */
add('curl', curlRule);
add('wget', wgetRule);
add('http https xh xhs httpie', httpieRule);
add('nc ncat netcat nc.traditional nc.openbsd socat telnet openssl', rawNetRule);
add('scp rsync sftp', (v) => remoteCopyRule(v));
add('ssh', sshInputRule);
add(
  'aws gsutil gcloud az azcopy rclone s3cmd mc b2 restic borg duplicity kubectl oc docker podman nerdctl buildah skopeo gh git mail mailx Mail mutt neomutt s-nail sendmail msmtp ssmtp swaks mpack lftp smbclient tftp ftp',
  (v) => cloudUploadRule(v),
);
add('dig host nslookup drill delv ping ping6 traceroute traceroute6 tracepath mtr whois', (v) => dynamicTargetRule(v));

/** One function object each for the pattern-matched families (instead of a new closure per lookup). */
const anyMkfs: BuiltinRule = (v) => mkfsRule(v);
const anyInterpreter: BuiltinRule = (v, e) => interpreterRule(v, e);

export function builtinRule(prog: string): BuiltinRule | undefined {
  const r = table.get(prog);
  if (r) return r;
  if (prog.startsWith('mkfs.')) return anyMkfs;
  if (INTERPRETERS.test(prog)) return anyInterpreter;
  return undefined;
}

/**
 * A program run by an explicit path outside the system directories (`./deploy.sh`,
 * `/opt/app/bin/run`): code the guard cannot read (issue 14 item 3), approve unless the policy's
 * `script_paths_allowed` covers it. The analyzer asks for this by path (builtinRule is by name).
 */
export { pathProgramRule };

/**
 * Commands known to be routine; used (with the built-in table) to decide whether an unknown
 * program that carries a dangerous argv in its arguments is hiding it (`mywrap rm -rf /`).
 */
export const KNOWN_BENIGN = new Set(
  `getent ls cat echo printf grep egrep fgrep rg ag head tail less more wc sort uniq cut tr diff cmp comm pwd cd pushd popd dirs which whereis type file stat du df free uptime whoami id groups hostname uname date cal env printenv true false test [ [[ : basename dirname realpath readlink seq yes sleep tree jq yq xq column fold fmt nl paste join split csplit expand unexpand od hexdump xxd strings md5sum sha1sum sha256sum sha512sum cksum base64 base32 gzip gunzip zcat bzip2 bunzip2 xz unxz zip unzip tar ps top htop pgrep lsof netstat ss ping traceroute dig nslookup host curl wget make cmake ninja gcc g++ cc clang go cargo rustc npm npx node yarn pnpm python python3 pip pip3 java javac mvn gradle dotnet ruby bundle rake php composer code vim nvim nano emacs less man info help history alias unalias export set source . read local return exit break continue shift getopts trap wait jobs fg bg disown umask ulimit hash let declare typeset readonly printf tput clear reset stty tty script ssh-keygen ssh-add gpg openssl locale iconv awk sed find xargs tee touch mkdir cp mv ln git docker kubectl helm terraform aws gcloud az psql mysql sqlite3 redis-cli mongo mongosh`.split(
    /\s+/,
  ),
);
