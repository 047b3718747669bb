#!/usr/bin/env bash
# Rebuilds the candidate pool the corpus was labelled from. Not run by tests or CI: it needs the
# Debian packages below unpacked (not installed) under $WORK/root, and takes a few minutes.
#
#   WORK=/tmp/h7 [OUT=/tmp/commands.jsonl] bash test/guard/corpus/tools/build.sh
#
# Steps: download the .debs (apt-get download, no install, no daemons started), unpack them, render
# the man pages and extract example command lines, take awscli's per-command .rst examples, wrap
# PostgreSQL's SQL examples in database CLIs, then dedupe/cap/parse-check into pool.jsonl.
# Then labels with label.mjs + review.jsonl (the human review) and writes ../commands.jsonl.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${WORK:-/tmp/h7}"
mkdir -p "$WORK/debs" "$WORK/root"
cd "$WORK"

PKGS=(lvm2 parted fdisk cron at sudo netcat-openbsd ncat nmap tcpdump screen ufw firewalld docker.io
  podman buildah skopeo awscli gh httpie restic borgbackup rclone s3cmd lftp sshpass expect pass age
  etcd-client ethtool cryptsetup-bin mdadm xfsprogs btrfs-progs acl attr certbot git-lfs quota ltrace
  duplicity rdiff-backup kubernetes-client util-linux-extra procps psmisc bsdextrautils rsyslog
  haproxy mercurial subversion gopass)
if [ -z "$(ls debs/*.deb 2>/dev/null)" ]; then (cd debs && apt-get download "${PKGS[@]}"); fi
for d in debs/*.deb; do dpkg-deb -x "$d" root; done

# Which package each page came from (installed pages via dpkg -S, unpacked ones via the .deb).
ls /usr/share/man/man{1,5,7,8}/*.gz | grep -v '/gcloud' > pages-sys.txt
ls /usr/share/man/man1/gcloud*.gz 2>/dev/null | awk 'NR%20==0' > pages-gcloud.txt || true
find root/usr/share/man -name '*.gz' | grep -E '/man[1-8]/' | grep -vE '/man/[a-z]{2}(_[A-Z]{2})?/' | sed "s|^|$WORK/|" > pages-extra.txt
cat pages-sys.txt pages-gcloud.txt > sysfiles.txt
ls /usr/share/man/man1/gcloud_*.gz 2>/dev/null | grep -E -f "$HERE/focus-pages.txt" >> sysfiles.txt || true
{ xargs dpkg -S < sysfiles.txt 2>/dev/null || true; } | awk -F': ' '{split($1,a,", "); print $2"\t"a[1]}' > pkgmap.tsv
for f in $(cat sysfiles.txt); do r=$(realpath "$f"); if [ "$r" != "$f" ]; then echo "$r"; fi; done | sort -u > realfiles.txt
{ xargs dpkg -S < realfiles.txt 2>/dev/null || true; } | awk -F': ' '{split($1,a,", "); print $2"\t"a[1]}' >> pkgmap.tsv
for d in debs/*.deb; do
  p=$(dpkg-deb -f "$d" Package)
  dpkg-deb -c "$d" | awk '{print $6}' | { grep -E 'share/man/man' || true; } | sed "s|^\./|$WORK/root/|" | awk -v p="$p" '{print $0"\t"p}'
done >> pkgmap.tsv

export MAN_ROOTS="/:$WORK/root"
node "$HERE/extract-man.mjs" cand-sys.jsonl $(cat pages-sys.txt)
node "$HERE/extract-man.mjs" cand-extra.jsonl $(cat pages-extra.txt)
[ -s pages-gcloud.txt ] && node "$HERE/extract-man.mjs" cand-gcloud.jsonl $(cat pages-gcloud.txt)
# Pages for the families the corpus must be rich in (secrets, exfiltration, destruction) are read
# whole, before the general per-page caps apply.
ls /usr/share/man/man1/gcloud*.gz > all-gcloud.txt 2>/dev/null || true
cat pages-sys.txt all-gcloud.txt pages-extra.txt | grep -E -f "$HERE/focus-pages.txt" | grep -vE '_(alpha|beta)_' > pages-focus.txt
node "$HERE/extract-man.mjs" cand-focus.jsonl $(cat pages-focus.txt)
node "$HERE/extract-rst.mjs" cand-aws.jsonl aws root/usr/lib/python3/dist-packages/awscli/examples 'awscli/examples/'
node "$HERE/select-aws.mjs" cand-aws.jsonl cand-aws-sel.jsonl
jq -c 'select(.page=="curl(1)")' cand-sys.jsonl > cand-curl.jsonl
jq -c 'select(.page!="curl(1)")' cand-sys.jsonl > cand-sys2.jsonl
node "$HERE/wrap-sql.mjs" sql.jsonl pkgmap.tsv cand-sys.jsonl

# Shell scripts shipped by packages (installed and unpacked), with their owning package.
(for d in /usr/bin /usr/sbin /usr/lib /usr/libexec /usr/share /etc "$WORK/root/usr" "$WORK/root/etc"; do
  find "$d" -type f -size -200k 2>/dev/null; done) > allfiles.txt
python3 - "$WORK" <<'PY'
import re, sys
out = open(sys.argv[1] + '/shfiles.txt', 'w')
for p in open(sys.argv[1] + '/allfiles.txt'):
    p = p.strip()
    try:
        head = open(p, 'rb').read(80)
    except Exception:
        continue
    if re.match(rb'#!\s*(/usr)?/bin/(env\s+)?(ba|da)?sh\b', head) or (p.endswith('.sh') and b'\0' not in head):
        out.write(p + '\n')
PY
{ grep -v "^$WORK" shfiles.txt | xargs dpkg -S 2>/dev/null || true; } | awk -F': ' '{split($1,a,", "); print $2"\t"a[1]}' > pkgmap-scripts.tsv
{ grep -v "^$WORK" shfiles.txt | sed 's|^/usr||' | xargs dpkg -S 2>/dev/null || true; } | awk -F': ' '{split($1,a,", "); print $2"\t"a[1]}' >> pkgmap-scripts.tsv
for d in debs/*.deb; do
  p=$(dpkg-deb -f "$d" Package)
  dpkg-deb -c "$d" | awk '{print $6}' | sed "s|^\./|$WORK/root/|" | awk -v p="$p" '{print $0"\t"p}'
done >> pkgmap-scripts.tsv
UNPACK_ROOT="$WORK/root" node "$HERE/extract-scripts.mjs" scripts.jsonl pkgmap-scripts.tsv shfiles.txt 3
node "$HERE/select-scripts.mjs" scripts.jsonl scripts-sel.jsonl 240

export PROG_CAPS="$(cat "$HERE/prog-caps.txt" | paste -sd,)"
node "$HERE/build-pool.mjs" pool.jsonl pkgmap.tsv cand-focus.jsonl:6:40 cand-sys2.jsonl:5:40 \
  cand-curl.jsonl:70 cand-extra.jsonl:4:70 cand-gcloud.jsonl:1:110 cand-aws-sel.jsonl:1:400
# A second, wider pool only to draw extra read-only lines from (select-benign.mjs).
PROG_CAPS="$(echo "$PROG_CAPS" | sed 's/git:150/git:400/')" node "$HERE/build-pool.mjs" pool-big.jsonl pkgmap.tsv \
  cand-focus.jsonl:6:40 cand-sys2.jsonl:12:100 cand-curl.jsonl:70 cand-extra.jsonl:10:150 cand-gcloud.jsonl:1:110 cand-aws-sel.jsonl:1:400
node "$HERE/select-benign.mjs" pool.jsonl pool-big.jsonl benign-extra.jsonl 230
cat pool.jsonl sql.jsonl scripts-sel.jsonl benign-extra.jsonl > pool-all.jsonl

# Label (first-pass rules + the human review), then merge with the written lines.
node "$HERE/label.mjs" pool-all.jsonl "$HERE/review.jsonl" labelled.jsonl
node "$HERE/assemble.mjs" labelled.jsonl "$HERE/written.jsonl" "${OUT:-$HERE/../commands.jsonl}"
