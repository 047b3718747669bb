import { beforeAll, describe, expect, it } from 'vitest';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';

/**
 * Writes the agent's own user may make freely (a new output file) are not harmless when a shell
 * running as root makes them, nor when the file is a kernel control file reached by a relative path.
 */
let g: GuardEngine;
beforeAll(async () => {
  g = await loadGuard({ decisionCache: 0 });
});
const ssh = (cmd: string) => g.checkCommand(cmd, { context: 'ssh' });

describe('writes under elevated privileges and to kernel control files', () => {
  it('a write made inside sudo/doas is approve; sudo of a read-only command stays allow', () => {
    for (const cmd of [
      'sudo sh -c "cd /home ; du -s * | sort -rn > USAGE"',
      "sudo bash -c 'echo x >> notes.txt'",
      'sudo sort -o out.txt in.txt',
      "doas sh -c 'date > stamp'",
    ]) {
      expect(ssh(cmd), cmd).toMatchObject({ decision: 'approve', rule: 'priv.write' });
    }
    for (const cmd of ['sudo journalctl -u app', 'sudo ls /var/log', "sudo sh -c 'ls > /dev/null'", 'du -s * > USAGE'])
      expect(ssh(cmd).decision, cmd).toBe('allow');
  });

  it('writing a cgroup or cpuset control file is approve, whatever directory it is reached from', () => {
    for (const cmd of [
      'echo 2-3 > cpuset.cpus',
      '/bin/echo 1 > cpuset.mems',
      'echo $$ > cgroup.procs',
      'echo max > memory.max',
      'echo 1 > notify_on_release',
      'echo /x > release_agent',
      'tee pids.max <<< 10',
    ]) {
      expect(ssh(cmd), cmd).toMatchObject({ decision: 'approve', rule: 'fs.write-system' });
    }
    for (const cmd of ['echo x > memory.txt', 'echo x > cpu.log', 'echo x > tasks.md'])
      expect(ssh(cmd).decision, cmd).toBe('allow');
  });
});
