import { has, parseOpts, subcommand, texts, type View } from './argv.js';
import { GIT_SHELL_KEY } from './option-code.js';
import { catastrophicTarget } from './rules-fs.js';
import { classifyRead } from './paths.js';
import { inspectClientMeta, inspectSql } from './sql.js';
import type { CredentialNameConfig } from './credential-names.js';
import { INTERPRETER_VALUE_OPTS } from './interpreter-options.js';
import { baseInterpreter, interpreterScriptRule } from './rules-exec.js';
import type { RuleEnv } from './rules-fs.js';
import { codeEnvDisclosure, credentialFile } from './rules-secrets.js';
import { finding, hardDeny, type Finding } from './types.js';
import type { Word } from './words.js';
import { truncateText } from '../core/index.js';

/** System, VCS, database, container/cloud, network and interpreter rules. */
const ap = (rule: string, reason: string, v: View): Finding[] => [finding('approve', rule, reason, v.text)];

export function powerRule(v: View): Finding[] {
  if (v.prog === 'init' || v.prog === 'telinit') {
    const level = v.args[0]?.text ?? '';
    return /^[06sS1]$/.test(level) ? ap('sys.power', `changes the runlevel (${level})`, v) : [];
  }
  return ap('sys.power', `${v.prog} stops or restarts the machine`, v);
}

export function systemctlRule(v: View): Finding[] {
  const { sub } = subcommand(v.args, [
    '-H',
    '-M',
    '-p',
    '-t',
    '-n',
    '-o',
    '--host',
    '--machine',
    '--property',
    '--type',
  ]);
  if (
    /^(stop|disable|mask|kill|restart|try-restart|reload-or-restart|isolate|poweroff|reboot|halt|kexec|suspend|hibernate|emergency|rescue|default|set-default|daemon-reexec|reset-failed|edit|revert|unmask|enable|start|reload|link|preset|preset-all)$/.test(
      sub,
    )
  ) {
    return ap('sys.service', `systemctl ${sub} changes services or power state`, v);
  }
  return [];
}

export function serviceRule(v: View): Finding[] {
  const act = v.args[1]?.text ?? '';
  if (
    /^(stop|restart|reload|force-reload|start)$/.test(act) ||
    (v.args.some((a) => a.text === '--status-all') === false && act === '')
  )
    return act ? ap('sys.service', `service ${act} changes a running service`, v) : [];
  return [];
}

export function killRule(v: View): Finding[] {
  const o = parseOpts(v.args, 'sn', ['signal']);
  if (
    (v.prog === 'kill' && o.pos.some((p) => p.text === '-1' || p.text === '1')) ||
    v.args.some((a) => a.text === '-1')
  ) {
    return [hardDeny('proc.kill-all', 'kill targeting PID 1 or every process (-1)', v.text)];
  }
  if (v.prog === 'kill' && o.pos.length && o.pos.every((p) => p.text.startsWith('%'))) return [];
  if (v.prog === 'kill' && v.args.some((a) => a.text === '-l' || a.text === '-L')) return [];
  return ap('proc.kill', `${v.prog} terminates processes`, v);
}

export function firewallRule(v: View): Finding[] {
  const a = texts(v.args);
  if (v.prog === 'ufw')
    return /^(disable|reset|delete|deny|reject|allow|limit|default|insert)$/.test(a[0] ?? '')
      ? ap('net.firewall', `ufw ${a[0]} changes the firewall`, v)
      : [];
  if (v.prog === 'nft')
    return a.some((x) => /^(flush|delete|add|insert|replace|destroy|-f)$/.test(x))
      ? ap('net.firewall', 'nft changes the firewall rules', v)
      : [];
  if (v.prog === 'firewall-cmd')
    return a.some((x) => /^--(add|remove|set|reload|panic|permanent|complete-reload)/.test(x))
      ? ap('net.firewall', 'firewall-cmd changes the firewall', v)
      : [];
  if (
    a.some((x) =>
      /^(-[FXZPADIRN]|--flush|--delete-chain|--zero|--policy|--delete|--append|--insert|--replace|--new-chain)/.test(x),
    ) ||
    v.prog.endsWith('-restore')
  )
    return ap('net.firewall', `${v.prog} changes or flushes the firewall`, v);
  return [];
}

export function crontabRule(v: View): Finding[] {
  const o = parseOpts(v.args, 'u', []);
  if (o.short.has('r')) return ap('sys.crontab-remove', 'crontab -r removes every scheduled job', v);
  if (o.short.has('l')) return [];
  return ap('sys.crontab', 'replaces or edits scheduled jobs', v);
}

export function packageRule(v: View): Finding[] {
  const { sub } = subcommand(v.args, ['-o', '-c', '-t']);
  const a = texts(v.args);
  const rm = /^(remove|purge|autoremove|erase|uninstall|del|delete|rm|un)$/;
  if (v.prog === 'pacman' && a.some((x) => /^-R/.test(x) || x === '--remove'))
    return ap('pkg.remove', 'removes packages', v);
  if (v.prog === 'dpkg' && a.some((x) => /^(-r|-P|--remove|--purge)$/.test(x)))
    return ap('pkg.remove', 'removes packages', v);
  if (v.prog === 'rpm' && a.some((x) => /^(-e|--erase)$/.test(x))) return ap('pkg.remove', 'removes packages', v);
  if (v.prog === 'npm' || v.prog === 'pnpm' || v.prog === 'yarn') {
    if (rm.test(sub) && a.some((x) => x === '-g' || x === '--global'))
      return ap('pkg.remove', 'removes a global package', v);
    if (sub === 'publish' || sub === 'unpublish' || sub === 'deprecate')
      return ap('pkg.publish', `${v.prog} ${sub} changes a public registry`, v);
    return [];
  }
  if (v.prog === 'pip' || v.prog === 'pip3' || v.prog === 'gem' || v.prog === 'cargo')
    return rm.test(sub) && (v.prog !== 'cargo' || sub === 'uninstall')
      ? ap('pkg.remove', 'removes packages', v)
      : sub === 'publish' || sub === 'yank'
        ? ap('pkg.publish', `${v.prog} ${sub} changes a public registry`, v)
        : [];
  if (rm.test(sub)) return ap('pkg.remove', `${v.prog} ${sub} removes packages`, v);
  if (
    /^(install|upgrade|dist-upgrade|full-upgrade|reinstall|downgrade|add)$/.test(sub) &&
    ['apt', 'apt-get', 'yum', 'dnf', 'zypper', 'apk', 'snap', 'brew', 'port'].includes(v.prog)
  ) {
    return ap('pkg.install', `${v.prog} ${sub} changes installed system packages`, v);
  }
  return [];
}

export function userRule(v: View): Finding[] {
  if (v.prog === 'passwd' && v.args.some((a) => a.text === '-S' || a.text === '--status')) return [];
  return ap('sys.accounts', `${v.prog} changes user accounts or passwords`, v);
}

const GIT_VALUE_OPTS = [
  '-C',
  '-c',
  '--git-dir',
  '--work-tree',
  '--namespace',
  '--exec-path',
  '--config-env',
  '--super-prefix',
];

export function gitRule(v: View): Finding[] {
  const out: Finding[] = [];
  for (const [i, w] of v.args.entries()) {
    const t = w.text;
    const cfg = t === '-c' ? (v.args[i + 1]?.text ?? '') : t.startsWith('--config-env') ? t : '';
    const [key = ''] = cfg.split('=');
    if (GIT_SHELL_KEY.test(key) || /^protocol\.ext/i.test(cfg)) {
      out.push(finding('approve', 'git.config-exec', `git -c ${key} can run arbitrary commands`, v.text));
    }
  }
  const { sub, index } = subcommand(v.args, GIT_VALUE_OPTS);
  const rest = v.args.slice(index + 1);
  const a = texts(rest);
  const o = parseOpts(rest, 'mCcoFSu', ['message', 'repo', 'receive-pack', 'push-option', 'exec', 'upload-pack']);
  switch (sub) {
    case 'push':
      if (
        has(o, 'f', 'force', 'force-with-lease', 'force-if-includes', 'mirror', 'prune') ||
        a.some((x) => /^\+/.test(x))
      )
        out.push(finding('approve', 'git.force-push', 'force push rewrites remote history', v.text));
      if (has(o, 'd', 'delete') || a.some((x) => /^:[^:]/.test(x)))
        out.push(finding('approve', 'git.push-delete', 'deletes a remote branch or tag', v.text));
      if (o.long.has('receive-pack') || o.long.has('exec'))
        out.push(finding('approve', 'git.config-exec', 'git push --receive-pack runs a command', v.text));
      break;
    case 'reset':
      if (has(o, '', 'hard', 'merge', 'keep'))
        out.push(finding('approve', 'git.reset-hard', 'git reset --hard discards uncommitted work', v.text));
      break;
    case 'clean':
      if (has(o, 'fx', 'force'))
        out.push(finding('approve', 'git.clean', 'git clean -f deletes untracked files', v.text));
      break;
    case 'checkout':
    case 'restore':
      if (a.includes('.') || (a.includes('--') && a.length > a.indexOf('--') + 1) || has(o, 'f', 'force', 'worktree'))
        out.push(finding('approve', 'git.discard', `git ${sub} discards local changes`, v.text));
      break;
    case 'branch':
      if ((has(o, 'D', 'delete') && (o.short.has('D') || has(o, 'f', 'force'))) || a.some((x) => x === '-D'))
        out.push(finding('approve', 'git.branch-delete', 'force-deletes a branch', v.text));
      break;
    case 'filter-branch':
    case 'filter-repo':
    case 'replace':
      out.push(finding('approve', 'git.history-rewrite', `git ${sub} rewrites history`, v.text));
      break;
    case 'rebase':
      out.push(finding('approve', 'git.history-rewrite', 'git rebase rewrites history', v.text));
      if (has(o, 'x', 'exec'))
        out.push(finding('approve', 'git.config-exec', 'git rebase --exec runs commands', v.text));
      break;
    case 'reflog':
      if (a.includes('expire') || a.includes('delete'))
        out.push(
          finding(
            'approve',
            'git.history-rewrite',
            'expires reflog entries (makes lost commits unrecoverable)',
            v.text,
          ),
        );
      break;
    case 'gc':
    case 'prune':
      if (a.some((x) => /^--prune(=now)?$/.test(x)) || sub === 'prune')
        out.push(finding('approve', 'git.history-rewrite', 'prunes unreachable commits', v.text));
      break;
    case 'stash':
      if (a[0] === 'drop' || a[0] === 'clear')
        out.push(finding('approve', 'git.stash-drop', 'deletes stashed work', v.text));
      break;
    case 'tag':
      if (has(o, 'd', 'delete')) out.push(finding('approve', 'git.tag-delete', 'deletes a tag', v.text));
      break;
    case 'update-ref':
      if (has(o, 'd')) out.push(finding('approve', 'git.history-rewrite', 'deletes a ref', v.text));
      break;
    case 'config': {
      // Setting (not reading) a key whose value git runs as a command, now or on a later git command.
      if (
        a.some((x) =>
          /^(--get|--get-all|--get-regexp|--get-urlmatch|-l|--list|--unset|--unset-all|get|list|unset)$/.test(x),
        )
      )
        break;
      const ops = a.filter((x) => !x.startsWith('-'));
      const key = ops[0] === 'set' ? ops[1] : ops[0];
      if (key !== undefined && GIT_SHELL_KEY.test(key) && ops.length >= 2)
        out.push(finding('approve', 'git.config-exec', `sets ${key}, a git option that runs commands`, v.text));
      break;
    }
    case 'commit':
      break;
    default:
      break;
  }
  return out;
}

/** Per database client: the options whose value is SQL (or the client's query language). */
const SQL_FLAGS: Record<string, readonly (readonly [string, string])[]> = {
  psql: [['-c', '--command']],
  cockroach: [['-e', '--execute']],
  mysql: [['-e', '--execute']],
  mariadb: [['-e', '--execute']],
  mycli: [['-e', '--execute']],
  'clickhouse-client': [['-q', '--query']],
  clickhouse: [['-q', '--query']],
  mongo: [['--eval', '--eval']],
  mongosh: [['--eval', '--eval']],
  cqlsh: [['-e', '--execute']],
  sqlcmd: [
    ['-Q', '--query'],
    ['-q', '--query'],
  ],
  usql: [['-c', '--command']],
  vsql: [['-c', '--command']],
  trino: [['--execute', '--execute']],
  presto: [['--execute', '--execute']],
  snowsql: [['-q', '--query']],
  'spark-sql': [['-e', '-e']],
  hive: [['-e', '-e']],
  beeline: [['-e', '-e']],
  'impala-shell': [['-q', '--query']],
  influx: [['-execute', '-execute']],
  pgcli: [['-c', '--command']],
};

/** redis commands that destroy data, change the server, or run code (Lua, modules). */
const REDIS_ADMIN =
  /^(flushall|flushdb|del|unlink|config|shutdown|debug|script|eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro|function|module|save|bgsave|bgrewriteaof|slaveof|replicaof|acl|migrate|restore|failover|swapdb|rename|renamenx|expire|pexpire|getdel)$/i;

export function dbClientRule(v: View): Finding[] {
  const name = v.prog;
  const out: Finding[] = [];
  const sqls: string[] = [];
  let opaque = false;
  const args = v.args;
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!.text;
    const next = args[i + 1];
    const takeVal = (flag: string, long: string): string | undefined => {
      if (t === flag || t === long) {
        i++;
        return next?.text;
      }
      if (t.startsWith(long + '=')) return t.slice(long.length + 1);
      if (flag.length === 2 && t.startsWith(flag) && t.length > 2 && !t.startsWith('--')) return t.slice(2);
      return undefined;
    };
    const isDyn = (): boolean => args[i]?.dynamic ?? false;
    let q: string | undefined;
    for (const [flag, long] of SQL_FLAGS[name] ?? []) {
      q = takeVal(flag, long);
      if (q !== undefined) break;
    }
    if (q !== undefined) {
      sqls.push(q);
      if (isDyn()) opaque = true;
      continue;
    }
    if (
      (name === 'psql' && (t === '-f' || t === '--file' || t.startsWith('--file='))) ||
      ((name === 'mongo' || name === 'mongosh') && /\.js$/.test(t))
    ) {
      opaque = true;
      if (t === '-f' || t === '--file') i++;
      continue;
    }
  }
  if (name === 'sqlite3' || name === 'duckdb') {
    // sqlite3 [OPTIONS] FILE [SQL…]: options are single-dash words, some taking a value.
    const pos: Word[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      const t = arg.text.replace(/^--/, '-');
      if (t === '-cmd' || (name === 'duckdb' && t === '-c')) {
        const w = args[++i];
        if (w) {
          sqls.push(w.text);
          if (w.dynamic) opaque = true;
        }
        continue;
      }
      if (t === '-init') {
        opaque = true;
        i++;
        continue;
      }
      if (/^-(separator|nullvalue|newline|maxsize|vfs|mmap|pagecache|lookaside|heap)$/.test(t)) {
        i++;
        continue;
      }
      if (t.startsWith('-')) continue;
      pos.push(arg);
    }
    if (pos.length > 1) {
      sqls.push(...pos.slice(1).map((w) => w.text));
      if (pos.slice(1).some((w) => w.dynamic)) opaque = true;
    }
  }
  if (name === 'bq') {
    // bq query 'SQL' (flags with =), bq rm (destroys datasets and tables).
    const ops = texts(args).filter((x) => !x.startsWith('-'));
    if (ops[0] === 'query' && ops[1] !== undefined) {
      sqls.push(ops.slice(1).join(' '));
      if (args.some((w) => w.dynamic)) opaque = true;
    }
    if (ops[0] === 'rm') out.push(finding('approve', 'db.drop', 'bq rm deletes a dataset, table or view', v.text));
  }
  if (name === 'redis-cli') {
    // Its command is in the arguments, or one per line of its stdin (a heredoc, a pipe, the caller's stdin).
    const stdinCmds =
      v.sc.stdin && !v.sc.stdin.dynamic ? v.sc.stdin.text.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '') : [];
    // CONFIG GET requirepass/masterauth (or *) prints the server's passwords.
    const words = texts(args).map((x) => x.toLowerCase());
    const cg = words.indexOf('config');
    if (cg >= 0 && words[cg + 1] === 'get' && /pass|auth|\*|tls-key|secret/.test(words.slice(cg + 2).join(' ')))
      out.push(finding('deny', 'secrets.db-credentials', "redis-cli CONFIG GET prints the server's passwords", v.text));
    if (args.some((w) => w.text === '--eval'))
      out.push(finding('approve', 'db.dynamic', 'redis-cli --eval runs a Lua script from a file', v.text));
    const cmd = [...texts(args), ...stdinCmds].find((x) => REDIS_ADMIN.test(x));
    if (cmd)
      out.push(
        finding(
          'approve',
          /^flush/i.test(cmd) ? 'db.drop' : 'db.admin',
          `redis-cli ${cmd} changes or destroys data`,
          v.text,
        ),
      );
    if (v.sc.stdin?.dynamic)
      out.push(
        finding(
          'approve',
          'db.opaque',
          'redis-cli: commands come from a run-time value and cannot be inspected',
          v.text,
        ),
      );
    return out;
  }
  const stdin = v.sc.stdin;
  if (stdin) {
    sqls.push(stdin.text);
    if (stdin.dynamic) opaque = true;
  }
  if (v.sc.redirects.some((r) => r.op === '<' && r.target)) opaque = true;
  for (const s of sqls) {
    out.push(...inspectSql(s, v.text, name), ...inspectClientMeta(s, v.text, name));
  }
  if (opaque)
    out.push(
      finding(
        'approve',
        'db.opaque',
        `${name}: SQL comes from a file or run-time value and cannot be inspected`,
        v.text,
      ),
    );
  return out;
}

export function dbAdminRule(v: View): Finding[] {
  if (v.prog === 'dropdb' || v.prog === 'dropuser') return ap('db.drop', `${v.prog} destroys a database object`, v);
  if (v.prog === 'mysqladmin' && v.args.some((a) => /^(drop|shutdown|flush-\w+|password)$/.test(a.text)))
    return ap('db.drop', 'mysqladmin changes or destroys databases', v);
  if (v.prog === 'pg_ctl' && v.args.some((a) => /^(stop|restart|kill|promote)$/.test(a.text)))
    return ap('sys.service', 'pg_ctl stops or restarts a database server', v);
  return [];
}

export function containerRule(v: View): Finding[] {
  const a = texts(v.args);
  const { sub, index } = subcommand(v.args, [
    '-H',
    '--host',
    '--context',
    '-c',
    '--config',
    '-f',
    '--file',
    '-p',
    '--project-name',
    '-n',
    '--namespace',
  ]);
  const rest = a.slice(index + 1);
  if (v.prog === 'docker' || v.prog === 'podman' || v.prog === 'nerdctl') {
    if (/^(rm|rmi|kill)$/.test(sub)) return ap('container.remove', `${v.prog} ${sub} removes containers or images`, v);
    if (sub === 'compose' || sub === 'docker-compose') {
      if (rest.some((x) => x === 'down' || x === 'rm' || x === 'kill'))
        return ap(
          'container.remove',
          `${v.prog} compose removes containers${rest.some((x) => x === '-v' || x === '--volumes') ? ' and volumes' : ''}`,
          v,
        );
      return [];
    }
    if (
      /^(system|volume|image|container|network|builder|buildx)$/.test(sub) &&
      rest.some((x) => /^(prune|rm|remove|rmi)$/.test(x))
    )
      return ap(
        'container.remove',
        `${v.prog} ${sub} ${rest.find((x) => /^(prune|rm|remove)$/.test(x))} deletes resources`,
        v,
      );
    if (sub === 'run' || sub === 'create') {
      if (
        a.some((x) => x === '--privileged' || /^--pid=host|^--net(work)?=host|^--cap-add/.test(x)) ||
        a.some(
          (x, i) =>
            (a[i - 1] === '-v' || a[i - 1] === '--volume') && /^\/(:|$)|^\/(etc|root|var\/run\/docker\.sock)/.test(x),
        ) ||
        a.some((x) => /^(-v|--volume=)\/:/.test(x))
      ) {
        return ap('container.privileged', 'runs a privileged container or mounts the host filesystem', v);
      }
    }
    if (sub === 'stop' || sub === 'restart') return ap('container.stop', `${v.prog} ${sub} stops containers`, v);
    return [];
  }
  if (v.prog === 'docker-compose')
    return a.some((x) => x === 'down' || x === 'rm' || x === 'kill')
      ? ap('container.remove', 'docker-compose removes containers', v)
      : [];
  if (v.prog === 'kubectl' || v.prog === 'oc') {
    if (
      /^(delete|drain|replace|cordon|taint|uncordon)$/.test(sub) ||
      (sub === 'scale' && rest.some((x) => /--replicas=0/.test(x)))
    )
      return ap('k8s.delete', `kubectl ${sub} removes or disrupts cluster resources`, v);
    if ((sub === 'rollout' && rest[0] === 'undo') || (sub === 'apply' && a.some((x) => x === '--prune')))
      return ap('k8s.delete', `kubectl ${sub} ${rest[0] ?? ''} changes cluster resources`, v);
    return [];
  }
  if (v.prog === 'helm')
    return /^(uninstall|delete|del|rollback)$/.test(sub)
      ? ap('k8s.helm-uninstall', `helm ${sub} removes or reverts a release`, v)
      : [];
  if (v.prog === 'terraform' || v.prog === 'tofu' || v.prog === 'terragrunt') {
    if (
      sub === 'destroy' ||
      a.includes('-destroy') ||
      (sub === 'state' && /^(rm|mv|replace-provider)$/.test(rest[0] ?? ''))
    )
      return ap('cloud.destroy', `${v.prog} destroys infrastructure`, v);
    if (sub === 'apply' && a.some((x) => x === '-auto-approve' || x === '--auto-approve'))
      return ap('cloud.apply', `${v.prog} apply -auto-approve changes infrastructure without review`, v);
    if (sub === 'apply' || sub === 'import' || sub === 'taint')
      return ap('cloud.apply', `${v.prog} ${sub} changes infrastructure`, v);
    return [];
  }
  if (v.prog === 'pulumi')
    return /^(destroy|up|refresh|cancel)$/.test(sub) || (sub === 'stack' && rest[0] === 'rm')
      ? ap('cloud.destroy', `pulumi ${sub} changes infrastructure`, v)
      : [];
  return [];
}

export function cloudRule(v: View): Finding[] {
  const a = texts(v.args).filter((x) => !x.startsWith('-'));
  const all = texts(v.args);
  if (v.prog === 'aws') {
    if (
      a[0] === 's3' &&
      (a[1] === 'rm' || a[1] === 'rb' || a[1] === 'mv') &&
      (all.includes('--recursive') || all.includes('--force') || a[1] === 'rb')
    )
      return ap('cloud.s3-delete', `aws s3 ${a[1]} deletes objects or buckets`, v);
    if (a[0] === 's3' && a[1] === 'sync' && all.includes('--delete'))
      return ap('cloud.s3-delete', 'aws s3 sync --delete removes objects', v);
    if (
      a.some((x) =>
        /^(delete|terminate|remove|deregister|purge|disable|stop|detach|revoke|put-bucket-policy|put-bucket-acl|update-assume-role-policy|attach-\w*policy|create-access-key)/.test(
          x,
        ),
      )
    )
      return ap('cloud.destroy', `aws ${a.slice(0, 2).join(' ')} deletes or changes cloud resources`, v);
    return [];
  }
  if (
    v.prog === 'gcloud' ||
    v.prog === 'az' ||
    v.prog === 'doctl' ||
    v.prog === 'flyctl' ||
    v.prog === 'fly' ||
    v.prog === 'heroku' ||
    v.prog === 'vercel' ||
    v.prog === 'netlify'
  ) {
    if (
      a.some((x) =>
        /^(delete|destroy|remove|rm|purge|stop|reset|disable|deallocate|scale|apps:destroy|pg:reset)$/.test(x),
      )
    )
      return ap('cloud.destroy', `${v.prog} ${truncateText(a.join(' '), 60)} deletes or stops cloud resources`, v);
    return [];
  }
  if (v.prog === 'gsutil')
    return a.some((x) => x === 'rm' || x === 'rb') || (all.includes('-d') && a[0] === 'rsync')
      ? ap('cloud.s3-delete', 'gsutil deletes objects or buckets', v)
      : [];
  return [];
}

/** Network tools: reverse shells, listeners, uploads. */
export function netRule(v: View): Finding[] {
  const a = texts(v.args);
  const joined = a.join(' ');
  if (
    v.prog === 'nc' ||
    v.prog === 'ncat' ||
    v.prog === 'netcat' ||
    v.prog === 'nc.traditional' ||
    v.prog === 'nc.openbsd'
  ) {
    if (
      a.some(
        (x) =>
          /^-[a-zA-Z]*[ec]$/.test(x) ||
          x === '--exec' ||
          x === '--sh-exec' ||
          x === '--lua-exec' ||
          /^--(sh-|lua-)?exec=/.test(x),
      )
    )
      return [
        hardDeny(
          'net.reverse-shell',
          `${v.prog} -e/-c runs a program on a network connection (reverse/bind shell)`,
          v.text,
        ),
      ];
    if (a.some((x) => /^-[a-zA-Z]*l/.test(x) || x === '--listen'))
      return ap('net.listen', `${v.prog} listens for network connections`, v);
    return [];
  }
  if (v.prog === 'socat') {
    if (
      /(^|[\s,!])(exec|system):/i.test(joined) ||
      (/\b(pty|tcp-listen|openssl-listen)\b/i.test(joined) && /exec|system|\bsh\b|bash/i.test(joined))
    )
      return [hardDeny('net.reverse-shell', 'socat connects a shell or program to the network', v.text)];
    return ap('net.socat', 'socat relays network connections', v);
  }
  if (v.prog === 'telnet' && v.sc.pipes.length) return [];
  return [];
}

/** Scans code given to an interpreter (`python -c`, `perl -e`…): opaque, so approve at least. */
export function scanCode(code: string, lang: string, v: View, credentialNames?: CredentialNameConfig): Finding[] {
  const out: Finding[] = [];
  if (/\/dev\/(tcp|udp)\//.test(code))
    out.push(hardDeny('net.dev-tcp', `${lang} code opens a network socket through /dev/tcp`, v.text));
  if (
    /socket/i.test(code) &&
    /(subprocess|pty\.spawn|os\.dup2|dup2|exec\s*\(|\bsystem\s*\(|spawn\s*\(|child_process|\/bin\/(ba)?sh|Process\.spawn|IO\.popen|proc_open|fsockopen)/i.test(
      code,
    )
  ) {
    out.push(
      hardDeny('net.reverse-shell', `${lang} code connects a shell to a network socket (reverse shell)`, v.text),
    );
  }
  if (/fsockopen\s*\(/.test(code) && /exec|system|shell_exec|proc_open|popen/.test(code))
    out.push(hardDeny('net.reverse-shell', 'php code connects a shell to a socket', v.text));
  if (
    /(\/etc\/shadow|\/etc\/gshadow|\.ssh\/id_|\.aws\/credentials|\.kube\/config|\.git-credentials|\.netrc|\.pgpass|\/proc\/[\w$]+\/environ|\.docker\/config\.json|\.config\/gh\/hosts\.yml|\.vault-token)/.test(
      code,
    )
  )
    out.push(hardDeny('secrets.read', `${lang} code reads a secret file`, v.text));
  if (
    /rmtree\s*\(\s*['"](\/|~|\/home|\/etc|\/usr)['"]|rm\s+-[a-zA-Z]*r[a-zA-Z]*\s+(\/|~)(\s|'|"|$)|rmSync\s*\(\s*['"]\/['"]|remove_dir_all\s*\(\s*['"]\/['"]/.test(
      code,
    )
  )
    out.push(hardDeny('fs.rm-root', `${lang} code deletes the root or home directory`, v.text));
  if (/os\.fork\s*\(\s*\)/.test(code) && /while\s+(True|1)|for\s*\(\s*;\s*;\s*\)/.test(code))
    out.push(hardDeny('proc.fork-bomb', `${lang} code forks without limit (fork bomb)`, v.text));
  // INVARIANT: code that prints the environment (or a credential from it) is secret disclosure.
  const env = codeEnvDisclosure(code, lang, credentialNames);
  if (env) out.push(finding('deny', 'secrets.env-print', env, v.text));
  out.push(
    finding('approve', 'exec.interpreter-code', `runs inline ${lang} code, which cannot be checked statically`, v.text),
  );
  return out;
}

/** Interpreter names, with an optional version (`python3.12`, `perl5.36`; not `perl.1`, a manual page). */
export const INTERPRETERS =
  /^(python([0-9]+(\.[0-9]+)*)?|pypy[0-9]*|perl([0-9]+(\.[0-9]+)*)?|ruby([0-9]+(\.[0-9]+)*)?|irb|node|nodejs|deno|bun|php([0-9]+(\.[0-9]+)*)?|lua([0-9]+(\.[0-9]+)*)?|luajit|Rscript|R|tclsh|wish|expect|osascript|pwsh|powershell|jshell|jrunscript|jjs|groovy|scala|julia|guile|racket|ghci|runghc|erl|escript|elixir|iex)$/;

/** Per interpreter: letters of short options that take inline code, letters that take a value (ending a group), and word options that take code. */
const CODE_OPTS: Record<string, { code: string; value: string; words?: readonly string[] }> = {
  python: { code: 'c', value: 'WXQm' },
  perl: { code: 'eE', value: 'IMmxlCdD0' },
  ruby: { code: 'e', value: 'IrCEFKTWx' },
  node: { code: 'ep', value: 'rC', words: ['--eval', '--print'] },
  bun: { code: 'ep', value: '', words: ['--eval', '--print'] },
  php: { code: 'rRBE', value: 'cdzftS' },
  lua: { code: 'e', value: 'l' },
  Rscript: { code: 'e', value: '' },
  R: { code: 'e', value: '', words: ['--eval'] },
  julia: { code: 'eE', value: '', words: ['--eval', '--print'] },
  osascript: { code: 'e', value: 'l' },
  pwsh: { code: '', value: '', words: ['-c', '-Command', '-command', '-EncodedCommand', '-e', '-ec', '-enc'] },
  groovy: { code: 'e', value: '' },
  scala: { code: 'e', value: '' },
  elixir: { code: 'e', value: 'r', words: ['--eval'] },
  iex: { code: 'e', value: '' },
  erl: { code: '', value: '', words: ['-eval'] },
  guile: { code: 'c', value: 'lL' },
  racket: { code: 'e', value: 'ftlr', words: ['--eval'] },
  ghci: { code: 'e', value: '' },
};

/**
 * The code an interpreter runs from its command line (`python3 -c CODE`, `perl -lne CODE`,
 * `node --eval=CODE`, `deno eval CODE`, `php -r CODE`), all parts joined, or undefined when it
 * has none. Options stop at the script operand (what follows belongs to the script).
 */
export function inlineCode(v: View): { code: string; dynamic: boolean } | undefined {
  const base = baseInterpreter(v.prog);
  const a = v.args;
  if (base === 'deno') {
    const i = a.findIndex((w) => w.text === 'eval');
    if (i < 0 || a.slice(0, i).some((w) => !w.text.startsWith('-'))) return undefined;
    const c = a.slice(i + 1).find((w) => !w.text.startsWith('-'));
    return c ? { code: c.text, dynamic: c.dynamic } : { code: '', dynamic: false };
  }
  const spec = CODE_OPTS[base] ?? { code: 'ec', value: '' };
  const valueWords = INTERPRETER_VALUE_OPTS[base] ?? [];
  const parts: string[] = [];
  let dynamic = false;
  const take = (w: Word | undefined, text?: string): void => {
    if (!w) return;
    parts.push(text ?? w.text);
    if (w.dynamic) dynamic = true;
  };
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!.text;
    if (t === '--' || t === '-') break;
    if (spec.words) {
      const eq = t.indexOf('=');
      if (spec.words.includes(t)) {
        take(a[i + 1]);
        i++;
        continue;
      }
      if (eq > 0 && spec.words.includes(t.slice(0, eq))) {
        take(a[i], t.slice(eq + 1));
        continue;
      }
    }
    if (!t.startsWith('-') || t.length < 2) break; // the script: what follows is its arguments
    if (t.startsWith('--')) {
      if (valueWords.includes(t)) i++;
      continue;
    }
    if (valueWords.includes(t)) {
      i++;
      continue;
    }
    for (let k = 1; k < t.length; k++) {
      const ch = t.charAt(k);
      if (spec.value.includes(ch)) break;
      if (spec.code.includes(ch)) {
        const rest = t.slice(k + 1);
        if (rest.length) take(a[i], rest);
        else {
          take(a[i + 1]);
          i++;
        }
        break;
      }
    }
  }
  return parts.length ? { code: parts.join('\n'), dynamic } : undefined;
}

export function interpreterRule(v: View, env: RuleEnv = { writeAllowed: [] }): Finding[] {
  const inline = inlineCode(v);
  if (inline) {
    if (inline.dynamic)
      return [
        finding('approve', 'exec.interpreter-code', `runs ${v.prog} code only known at run time`, v.text, {
          floor: true,
        }),
      ];
    return scanCode(inline.code, v.prog, v, env.credentialNames);
  }
  const base = baseInterpreter(v.prog);
  const a = texts(v.args);
  if (base === 'python') {
    for (const [i, t] of a.entries()) {
      if (t === '-m' || /^-[a-zA-Z]*m$/.test(t)) return pythonModule(a[i + 1] ?? '', v);
      if (/^-m./.test(t)) return pythonModule(t.slice(2), v);
      if (!t.startsWith('-')) break;
    }
  }
  return interpreterScriptRule(v, env);
}

function pythonModule(mod: string, v: View): Finding[] {
  if (/^(http\.server|SimpleHTTPServer|pty|smtpd|ftplib)$/.test(mod))
    return ap('net.listen', `python -m ${mod} opens a server or terminal`, v);
  if (mod === 'pip' && v.args.some((a) => a.text === 'uninstall')) return ap('pkg.remove', 'removes packages', v);
  return [];
}

export function awkRule(v: View, env: RuleEnv = { writeAllowed: [] }): Finding[] {
  const o = parseOpts(v.args, 'fFv', ['file', 'field-separator', 'assign', 'include', 'load']);
  if (o.values.has('f') || o.long.has('file') || o.long.has('include') || o.long.has('load'))
    return ap('exec.interpreter-code', `${v.prog} runs a program from a file`, v);
  const prog = o.pos[0]?.text ?? '';
  const out: Finding[] = [];
  // Files the program reads by name (`getline < "/etc/shadow"`): judged as reads.
  for (const m of prog.matchAll(/getline\s*[\w$[\]]*\s*<\s*"((?:[^"\\]|\\.)*)"/g)) {
    const path = m[1]!;
    const p: Word = { text: path, dynamic: false, glob: false, raw: path, vars: [], prefix: path };
    const f =
      classifyRead(p, v.text) ??
      (credentialFile(p) ? hardDeny('secrets.read', `${v.prog} reads credentials (${path})`, v.text) : undefined);
    if (f) out.push(f);
  }
  const envWhy = codeEnvDisclosure(prog, 'awk', env.credentialNames);
  if (envWhy) out.push(finding('deny', 'secrets.env-print', envWhy, v.text));
  if (
    /\bsystem\s*\(|\|\s*getline|\bprint[f]?\b[^;}]*\|\s*"|\bprint[f]?\b[^;}]*>>?\s*("|\w)|\bclose\s*\(|\|&/.test(prog)
  ) {
    return [
      ...out,
      ...scanCode(prog, v.prog, v).filter((f) => f.decision === 'deny'),
      finding('approve', 'exec.awk-system', `${v.prog} program runs commands or writes files`, v.text),
    ];
  }
  if (/\/etc\/shadow|\.ssh\/id_/.test(prog))
    return [...out, hardDeny('secrets.read', 'awk reads a secret file', v.text)];
  return out;
}

export function sedRule(v: View): Finding[] {
  const o = parseOpts(v.args, 'efl', ['expression', 'file', 'line-length']);
  const scripts = [
    ...(o.values.has('e') ? v.args.filter((_, i) => v.args[i - 1]?.text === '-e').map((w) => w.text) : []),
    ...(o.long.has('expression') ? [o.long.get('expression') ?? ''] : []),
  ];
  if (!scripts.length && o.pos[0]) scripts.push(o.pos[0].text);
  if (o.values.has('f') || o.long.has('file')) return ap('exec.sed-script', 'sed runs a script from a file', v);
  const out: Finding[] = [];
  for (const s of scripts) {
    // `r FILE` / `R FILE` read a file into the output: judged as a read (`sed 'r /etc/shadow'`).
    for (const m of s.matchAll(/(?:^|[;\n{}])\s*(?:[0-9$,]+|\/[^/]*\/)?\s*[rR]\s+([^;\n}]+)/g)) {
      const path = m[1]!.trim();
      const p: Word = { text: path, dynamic: false, glob: false, raw: path, vars: [], prefix: path };
      const f =
        classifyRead(p, v.text) ??
        (credentialFile(p) ? hardDeny('secrets.read', `sed reads credentials (${path})`, v.text) : undefined);
      if (f) out.push(f);
    }
    if (/(^|[;\n{}])\s*([0-9$,]+|\/[^/]*\/)?\s*e(\s|;|$)|s(.)(?:(?!\4).)*\4(?:(?!\4).)*\4[gpIiMm0-9]*e/.test(s))
      return [...out, ...ap('exec.sed-exec', 'sed e executes shell commands', v)];
    if (/(^|[;\n{}])\s*([0-9$,]+|\/[^/]*\/)?\s*[wW]\s+\S|s(.)(?:(?!\3).)*\3(?:(?!\3).)*\3[gpIiMme0-9]*w\s+\S/.test(s))
      return [...out, ...ap('fs.sed-write', 'sed w writes a file', v)];
  }
  return out;
}

export function tarRule(v: View): Finding[] {
  // Options that run commands are judged by optionCommandRule (src/guard/rules-exec.ts) and the commands themselves through the analyzer.
  const a = texts(v.args);
  const o = parseOpts(v.args, 'CfbTX', ['directory', 'file']);
  const dir = o.values.get('C') ?? o.long.get('directory');
  if (
    dir !== undefined &&
    a.some((x) => /^-?[a-zA-Z]*x/.test(x) || x === '--extract') &&
    catastrophicTarget({ text: dir, dynamic: false, glob: false, raw: dir, vars: [], prefix: dir })
  )
    return ap('fs.tar-extract-system', `extracts an archive over ${dir}`, v);
  return [];
}

export function editorRule(v: View): Finding[] {
  const a = texts(v.args);
  if (
    a.some(
      (x, i) =>
        (x === '-c' || x.startsWith('+') || x === '--cmd') &&
        /!|\bsystem\s*\(|:sh|:term|py(thon)?3?\s/.test(x.startsWith('+') ? x : (a[i + 1] ?? '')),
    )
  )
    return ap('exec.editor-command', `${v.prog} runs a shell command`, v);
  return [];
}

export function miscApprove(v: View): Finding[] {
  const p = v.prog;
  if (p === 'mount' && v.args.length === 0) return [];
  if (p === 'history' && !v.args.some((a) => a.text === '-c' || a.text === '-w' || a.text === '-d')) return [];
  if (
    p === 'sysctl' &&
    !v.args.some((a) => a.text === '-w' || a.text.includes('=') || a.text === '-p' || a.text === '--system')
  )
    return [];
  if (p === 'setenforce' && v.args[0]?.text === '1') return [];
  if (p === 'at' && v.args.some((a) => a.text === '-l')) return [];
  return ap('sys.admin', `${p} changes system state`, v);
}

export const MISC_APPROVE = new Set([
  'mount',
  'umount',
  'swapoff',
  'swapon',
  'modprobe',
  'insmod',
  'rmmod',
  'setenforce',
  'sysctl',
  'chattr',
  'history',
  'at',
  'batch',
  'visudo',
  'kexec',
  'pivot_root',
  'losetup',
  'cryptsetup',
  'mdadm',
  'lvremove',
  'vgremove',
  'pvremove',
  'lvcreate',
  'vgcreate',
  'pvcreate',
  'zpool',
  'zfs',
  'btrfs',
  'debugfs',
  'tune2fs',
  'e2fsck',
  'fsck',
  'xfs_repair',
  'update-grub',
  'grub-install',
  'efibootmgr',
  'ip',
  'ifconfig',
  'route',
  'tc',
  'nmcli',
  'iwconfig',
  'hostnamectl',
  'timedatectl',
  'localectl',
  'loginctl',
  'journalctl',
  'auditctl',
  'aa-disable',
  'apparmor_parser',
  'launchctl',
  'csrutil',
  'dscl',
  'defaults',
  'diskutil',
  'killall5',
]);

export function ipRule(v: View): Finding[] {
  const a = texts(v.args);
  if (v.prog === 'journalctl')
    return a.some((x) => /^--(vacuum|rotate|flush)/.test(x))
      ? ap('sys.logs', 'journalctl deletes or rotates logs', v)
      : [];
  if (v.prog === 'ip' || v.prog === 'ifconfig' || v.prog === 'route' || v.prog === 'nmcli' || v.prog === 'tc') {
    return a.some((x) => /^(add|del|delete|flush|change|replace|set|down|up|modify|connection|netns|link)$/.test(x)) &&
      !a.every((x) => /^(show|list|-[a-z0-9]+|addr|address|route|link|a|r|l)$/.test(x))
      ? ap('net.config', `${v.prog} changes network configuration`, v)
      : [];
  }
  return miscApprove(v);
}

export { catastrophicTarget };
