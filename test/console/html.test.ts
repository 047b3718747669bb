import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { escapeHtml, html, raw } from '../../src/console/index.js';

describe('console HTML builder', () => {
  it('escapes every interpolated value, in text and attributes', () => {
    const evil = `"><script>alert(1)</script><a href='x'>&`;
    const out = html`<p title="${evil}">${evil}</p>`.toString();
    expect(out).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=&#39;x&#39;&gt;&amp;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;a href=&#39;x&#39;&gt;&amp;</p>',
    );
  });

  it('keeps built fragments, joins lists, drops null/undefined/false, and escapes inside lists', () => {
    const items = ['<a>', 'b'].map((t) => html`<i>${t}</i>`);
    expect(html`<b>${items}${null}${undefined}${false}${0}</b>`.toString()).toBe('<b><i>&lt;a&gt;</i><i>b</i>0</b>');
    expect(html`${['<x>', html`<y></y>`]}`.toString()).toBe('&lt;x&gt;<y></y>');
    expect(html`${raw('<hr>')}`.toString()).toBe('<hr>');
  });

  it('no string, whatever it holds, leaves an unescaped markup character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = html`<p>${s}</p>`.toString();
        const inner = out.slice(3, -4);
        expect(inner).not.toMatch(/[<>"']/);
        expect(inner).toBe(escapeHtml(s));
      }),
      // A fixed seed: CI is reproducible, and fast-check prints the seed and the shrunk case on failure.
      { seed: 1707, numRuns: 1000 },
    );
  });

  it('a string that looks like a fragment is still text (only html`` and raw() make fragments)', () => {
    const forged = { toString: () => '<script>' } as unknown as string;
    expect(html`${forged}`.toString()).toBe('&lt;script&gt;');
  });
});
