/**
 * The one reading of Content-Type (src/core/media-type.ts): the essence is compared whole, never
 * by substring or prefix, and parsing is lenient only after the essence.
 */
import { describe, expect, it } from 'vitest';
import {
  isBinaryMedia,
  isJsonMedia,
  isMultipartForm,
  isTextResponseMedia,
  isTextualRequestMedia,
  mediaParams,
  mediaTypeOf,
} from '../../src/core/index.js';

describe('mediaTypeOf', () => {
  it('lower-cases the essence and keeps every parameter in order, quotes removed', () => {
    const m = mediaTypeOf(' Application/JSON ; Charset="UTF-8"; q=1; charset=latin1');
    expect(m?.essence).toBe('application/json');
    expect(mediaParams(m, 'charset')).toEqual(['UTF-8', 'latin1']);
    expect(mediaParams(m, 'q')).toEqual(['1']);
  });

  it('has no media type without a type/subtype at the start', () => {
    for (const v of [undefined, '', 'json', '/json', 'application/', '; charset=utf-8', '"application/json"']) {
      expect(mediaTypeOf(v), String(v)).toBeUndefined();
    }
  });

  it('is lenient after the essence: garbage after it does not hide the type', () => {
    expect(mediaTypeOf('application/json garbage')?.essence).toBe('application/json');
    expect(mediaTypeOf('text/plain,application/json')?.essence).toBe('text/plain');
  });
});

describe('classification compares the essence whole', () => {
  it('never matches a longer subtype or a type named in a parameter', () => {
    expect(isJsonMedia(mediaTypeOf('application/jsonx'))).toBe(false);
    expect(isJsonMedia(mediaTypeOf('application/json-seq'))).toBe(false);
    expect(isJsonMedia(mediaTypeOf('text/plain; note="application/json"'))).toBe(false);
    expect(isMultipartForm(mediaTypeOf('multipart/form-datax'))).toBe(false);
    expect(isMultipartForm(mediaTypeOf('multipart/mixed; x=multipart/form-data'))).toBe(false);
  });

  it('knows the JSON, textual, multipart and binary families', () => {
    expect(isJsonMedia(mediaTypeOf('application/vnd.api+json; charset=utf-8'))).toBe(true);
    expect(isJsonMedia(mediaTypeOf('application/x-ndjson'))).toBe(true);
    expect(isTextualRequestMedia(mediaTypeOf('text/csv'))).toBe(true);
    expect(isTextualRequestMedia(mediaTypeOf('application/soap+xml'))).toBe(true);
    expect(isTextualRequestMedia(mediaTypeOf('application/x-www-form-urlencoded'))).toBe(true);
    expect(isTextualRequestMedia(mediaTypeOf('application/octet-stream'))).toBe(false);
    expect(isTextualRequestMedia(mediaTypeOf('image/svg+xml'))).toBe(false);
  });

  it('reads request bodies wide: a type some server may parse as text is read for the guard', () => {
    for (const t of [
      'application/json5',
      'application/jsonx',
      'application/xml-dtd',
      'application/x-www-form-urlencodedx',
      'application/graphql-response+json',
      'application/vnd.api+json',
    ]) {
      expect(isTextualRequestMedia(mediaTypeOf(t)), t).toBe(true);
    }
    expect(isMultipartForm(mediaTypeOf('Multipart/Form-Data; boundary=x'))).toBe(true);
    expect(isTextResponseMedia(mediaTypeOf('application/yaml'))).toBe(true);
    expect(isBinaryMedia(mediaTypeOf('image/png'))).toBe(true);
    expect(isBinaryMedia(mediaTypeOf('application/pdf'))).toBe(true);
    expect(isBinaryMedia(mediaTypeOf('application/pdfx'))).toBe(false);
  });
});
