import type { View } from './argv.js';
import type { RuleEnv } from './rules-fs.js';
import { chmodRule, ddRule, diskToolRule, findRule, mkfsRule, rmRule, shredRule, writeTargetsRule } from './rules-fs.js';
import {
  awkRule, cloudRule, containerRule, crontabRule, dbAdminRule, dbClientRule, editorRule, firewallRule, gitRule, interpreterRule,
  INTERPRETERS, ipRule, killRule, MISC_APPROVE, netRule, packageRule, powerRule, sedRule, serviceRule, systemctlRule, tarRule, userRule,
} from './rules-sys.js';
import type { Finding } from './types.js';

/** Program name -> built-in rule. A program with no entry has no built-in concern. */
export type BuiltinRule = (v: View, env: RuleEnv) => Finding[];

const table = new Map<string, BuiltinRule>();
const add = (names: string, r: BuiltinRule): void => { for (const n of names.split(/\s+/)) if (n) table.set(n, r); };

add('rm unlink rmdir srm', (v, e) => (v.prog === 'rmdir' || v.prog === 'unlink' ? rmRule(v, e).map((f) => (f.rule === 'fs.rm' ? { ...f, decision: f.decision } : f)) : rmRule(v, e)));
add('shred wipe', (v) => shredRule(v));
add('dd', (v) => ddRule(v));
add('mkfs mkfs.ext2 mkfs.ext3 mkfs.ext4 mkfs.xfs mkfs.btrfs mkfs.vfat mkfs.fat mkfs.ntfs mkfs.exfat mke2fs mkswap newfs', (v) => mkfsRule(v));
add('fdisk sfdisk cfdisk gdisk sgdisk parted partprobe wipefs blkdiscard hdparm', (v) => diskToolRule(v));
add('chmod chown chgrp', chmodRule);
add('tee truncate cp mv install ln rsync scp touch mkdir', writeTargetsRule);
add('sed', (v, e) => [...sedRule(v), ...writeTargetsRule(v, e)]);
add('find', (v) => findRule(v));
add('shutdown reboot halt poweroff init telinit', (v) => powerRule(v));
add('systemctl', (v) => systemctlRule(v));
add('service', (v) => serviceRule(v));
add('kill killall pkill skill slay xkill', (v) => killRule(v));
add('iptables ip6tables iptables-restore ip6tables-restore iptables-nft ufw nft firewall-cmd', (v) => firewallRule(v));
add('crontab', (v) => crontabRule(v));
add('apt apt-get aptitude yum dnf zypper pacman apk dpkg rpm snap flatpak brew port pip pip3 gem cargo npm pnpm yarn', (v) => packageRule(v));
add('passwd chpasswd usermod userdel useradd adduser deluser groupdel groupmod groupadd chage gpasswd vipw vigr newusers', (v) => userRule(v));
add('git', (v) => gitRule(v));
add('psql mysql mariadb sqlite3 clickhouse-client cockroach mongo mongosh redis-cli', (v) => dbClientRule(v));
add('dropdb dropuser mysqladmin pg_ctl', (v) => dbAdminRule(v));
add('docker podman nerdctl docker-compose kubectl oc helm terraform tofu terragrunt pulumi', (v) => containerRule(v));
add('aws gcloud az doctl gsutil fly flyctl heroku vercel netlify', (v) => cloudRule(v));
add('nc ncat netcat nc.traditional nc.openbsd socat', (v) => netRule(v));
add('awk gawk mawk nawk', (v) => awkRule(v));
add('tar', (v) => tarRule(v));
add('vi vim nvim ex view', (v) => editorRule(v));
for (const m of MISC_APPROVE) table.set(m, (v) => ipRule(v));

/** One function object each for the pattern-matched families (instead of a new closure per lookup). */
const anyMkfs: BuiltinRule = (v) => mkfsRule(v);
const anyInterpreter: BuiltinRule = (v) => interpreterRule(v);

export function builtinRule(prog: string): BuiltinRule | undefined {
  const r = table.get(prog);
  if (r) return r;
  if (prog.startsWith('mkfs.')) return anyMkfs;
  if (INTERPRETERS.test(prog)) return anyInterpreter;
  return undefined;
}

/**
 * Commands known to be routine; used (with the built-in table) to decide whether an unknown
 * program that carries a dangerous argv in its arguments is hiding it (`mywrap rm -rf /`).
 */
export const KNOWN_BENIGN = new Set(
  `getent ls cat echo printf grep egrep fgrep rg ag head tail less more wc sort uniq cut tr diff cmp comm pwd cd pushd popd dirs which whereis type file stat du df free uptime whoami id groups hostname uname date cal env printenv true false test [ [[ : basename dirname realpath readlink seq yes sleep tree jq yq xq column fold fmt nl paste join split csplit expand unexpand od hexdump xxd strings md5sum sha1sum sha256sum sha512sum cksum base64 base32 gzip gunzip zcat bzip2 bunzip2 xz unxz zip unzip tar ps top htop pgrep lsof netstat ss ping traceroute dig nslookup host curl wget make cmake ninja gcc g++ cc clang go cargo rustc npm npx node yarn pnpm python python3 pip pip3 java javac mvn gradle dotnet ruby bundle rake php composer code vim nvim nano emacs less man info help history alias unalias export set source . read local return exit break continue shift getopts trap wait jobs fg bg disown umask ulimit hash let declare typeset readonly printf tput clear reset stty tty script ssh-keygen ssh-add gpg openssl locale iconv awk sed find xargs tee touch mkdir cp mv ln git docker kubectl helm terraform aws gcloud az psql mysql sqlite3 redis-cli mongo mongosh`.split(/\s+/),
);
