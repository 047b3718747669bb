/**
 * SFTP read and write on an open connection, one SFTP channel per call (counted against the
 * pool's channel limit like an exec). Path rules are the gate's job; this file only moves bytes,
 * bounded by maxBytes on read, and maps SFTP status codes to typed errors.
 */
import type { Client, SFTPWrapper } from 'ssh2';
import { GatehouseError } from '../core/index.js';
import { ChannelOpenError } from './exec-run.js';
import type { ReadFileResult, WriteFileResult } from './types.js';

const CHUNK = 32 * 1024;

function sftpError(target: string, path: string, op: string, e: unknown): GatehouseError {
  const code = (e as { code?: unknown })?.code;
  if (code === 2)
    return new GatehouseError('not_found', `${op} ${path} on SSH target "${target}": no such file`, {
      hint: 'check the path',
    });
  if (code === 3)
    return new GatehouseError('ssh_error', `${op} ${path} on SSH target "${target}": permission denied by the server`, {
      hint: 'the target user lacks access to this path',
    });
  if (code === 4 && op === 'read')
    return new GatehouseError('ssh_error', `${op} ${path} on SSH target "${target}" failed (is it a directory?)`, {
      hint: 'check the path',
    });
  return new GatehouseError('ssh_error', `${op} ${path} on SSH target "${target}" failed`, {
    hint: 'check the path and the sshd log on the target',
  });
}

export function openSftp(client: Client, target: string, isAlive: () => boolean): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    try {
      client.sftp((err, sftp) => {
        if (err) reject(new ChannelOpenError(!isAlive(), `SFTP channel open failed on SSH target "${target}"`));
        else resolve(sftp);
      });
    } catch {
      reject(new ChannelOpenError(true, `SSH target "${target}" is not connected`));
    }
  });
}

function p<T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

export async function sftpRead(
  sftp: SFTPWrapper,
  target: string,
  path: string,
  maxBytes: number,
): Promise<ReadFileResult> {
  if (!Number.isInteger(maxBytes) || maxBytes < 0)
    throw new GatehouseError('invalid_input', 'max_bytes must be a non-negative integer', {
      hint: 'pass a byte count',
    });
  let handle: Buffer;
  let size: number;
  try {
    handle = await p<Buffer>((cb) => sftp.open(path, 'r', cb));
    const st = await p<{ size: number }>((cb) => sftp.fstat(handle, cb));
    size = st.size ?? 0;
  } catch (e) {
    throw sftpError(target, path, 'read', e);
  }
  try {
    // Read one byte past the cap so truncation is known even when the size is unreported (0).
    const want = maxBytes + 1;
    const buf = Buffer.alloc(Math.min(want, Math.max(size + 1, CHUNK)));
    let got = 0;
    let target_ = buf;
    for (;;) {
      if (got >= want) break;
      if (got >= target_.length) {
        const bigger = Buffer.alloc(Math.min(want, target_.length * 2));
        target_.copy(bigger, 0, 0, got);
        target_ = bigger;
      }
      const len = Math.min(CHUNK, target_.length - got);
      const n = await new Promise<number>((resolve, reject) =>
        sftp.read(handle, target_, got, len, got, (err, bytesRead) => {
          // ssh2 reports EOF as an error with code 1 (SSH_FX_EOF) on some servers.
          if (err && (err as { code?: unknown }).code !== 1) reject(err);
          else resolve(err ? 0 : bytesRead);
        }),
      );
      if (n === 0) break;
      got += n;
    }
    const truncated = got > maxBytes;
    return { content: Buffer.from(target_.subarray(0, Math.min(got, maxBytes))), truncated, size: Math.max(size, got) };
  } catch (e) {
    throw sftpError(target, path, 'read', e);
  } finally {
    await p<void>((cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => {});
  }
}

export async function sftpWrite(
  sftp: SFTPWrapper,
  target: string,
  path: string,
  content: Buffer,
  mode?: number,
): Promise<WriteFileResult> {
  if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)) {
    throw new GatehouseError('invalid_input', 'mode must be an integer between 0 and 0o7777', {
      hint: 'for example 0o644',
    });
  }
  let handle: Buffer;
  try {
    handle = await p<Buffer>((cb) => sftp.open(path, 'w', mode === undefined ? {} : { mode }, cb));
  } catch (e) {
    throw sftpError(target, path, 'write', e);
  }
  try {
    let off = 0;
    while (off < content.length) {
      const len = Math.min(CHUNK, content.length - off);
      await p<void>((cb) => sftp.write(handle, content, off, len, off, (err) => cb(err, undefined)));
      off += len;
    }
    // open()'s mode applies only when the file is created; set it explicitly for existing files.
    if (mode !== undefined) await p<void>((cb) => sftp.fchmod(handle, mode, (err) => cb(err, undefined)));
    return { bytesWritten: content.length };
  } catch (e) {
    throw sftpError(target, path, 'write', e);
  } finally {
    await p<void>((cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => {});
  }
}
