import { describe, expect, it } from 'vitest';
import { buildCommand, endsWithContinuation, shellQuote, splitInputLines, stripAnsi } from '../../src/ssh/index.js';

describe('splitInputLines', () => {
  it('splits on LF, CRLF and CR and drops blank lines', () => {
    expect(splitInputLines('ls -la\r\npwd\rwhoami\n\n  \n')).toEqual(['ls -la', 'pwd', 'whoami']);
  });
  it('joins backslash continuations the way the shell does', () => {
    expect(splitInputLines('rm -rf \\\n/tmp/x\necho ok')).toEqual(['rm -rf /tmp/x', 'echo ok']);
    // An escaped backslash is not a continuation.
    expect(splitInputLines('echo a\\\\\necho b')).toEqual(['echo a\\\\', 'echo b']);
  });
  it('keeps an open continuation at the end visible, and flags it', () => {
    expect(splitInputLines('rm -rf \\')).toEqual(['rm -rf \\']);
    expect(endsWithContinuation('rm -rf \\')).toBe(true);
    expect(endsWithContinuation('ls \\\n')).toBe(true);
    expect(endsWithContinuation('ls \\\n\n')).toBe(false);
    expect(endsWithContinuation('echo a\\\\')).toBe(false);
    expect(endsWithContinuation('ls')).toBe(false);
  });
});

describe('command building', () => {
  it('quotes single quotes safely', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
  it('puts env and cwd before the command on their own lines', () => {
    expect(buildCommand('a; b', '/srv/my app', { X: '1 2' })).toBe(
      `export X='1 2'\ncd -- '/srv/my app' || exit 1\na; b`,
    );
  });
});

describe('stripAnsi', () => {
  it('removes CSI, OSC, bracketed paste and CR', () => {
    expect(stripAnsi('\x1b[?2004h\x1b]0;title\x07\x1b[1;31mred\x1b[0m\r\n')).toBe('red\n');
  });
});
