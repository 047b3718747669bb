import { GatehouseError, truncateText } from '../core/index.js';

/**
 * Names. Vault and item names: letters, digits, `_`, `.`, `-`; start with a letter, digit or `_`;
 * up to 128 chars (item names may hold dots, e.g. `api.example.com`). Field names: letters,
 * digits, `_`, `-` (no dot: the field is what follows the LAST dot of `ITEM.FIELD`).
 */
export const NAME_SRC = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
export const FIELD_SRC = '[A-Za-z0-9_-]{1,64}';
const NAME = new RegExp(`^${NAME_SRC}$`);
const FIELD = new RegExp(`^${FIELD_SRC}$`);

export interface FieldRef {
  vault: string;
  item: string;
  field: string;
}

export function checkName(kind: 'vault' | 'item', name: string): string {
  if (!NAME.test(name) || name.endsWith('.')) {
    throw new GatehouseError('invalid_input', `invalid ${kind} name ${JSON.stringify(truncateText(name, 140))}`, {
      hint: 'use letters, digits, _ . - (starting with a letter, digit or _; not ending with a dot; at most 128 chars)',
    });
  }
  return name;
}

export function checkField(name: string): string {
  if (!FIELD.test(name)) {
    throw new GatehouseError('invalid_input', `invalid field name ${JSON.stringify(truncateText(name, 80))}`, {
      hint: 'use letters, digits, _ and - (at most 64 chars)',
    });
  }
  return name;
}

/** Parses `VAULT/ITEM.FIELD` (the field follows the last dot). */
export function parseFieldRef(ref: string): FieldRef {
  const slash = ref.indexOf('/');
  const dot = ref.lastIndexOf('.');
  if (slash <= 0 || dot <= slash + 1 || dot === ref.length - 1) {
    throw new GatehouseError('invalid_input', `invalid reference ${JSON.stringify(truncateText(ref, 200))}`, {
      hint: 'write VAULT/ITEM.FIELD, e.g. ops/github.token',
    });
  }
  return {
    vault: checkName('vault', ref.slice(0, slash)),
    item: checkName('item', ref.slice(slash + 1, dot)),
    field: checkField(ref.slice(dot + 1)),
  };
}

/** Parses `VAULT` or `VAULT/ITEM` (for removal). */
export function parseItemRef(ref: string): { vault: string; item?: string } {
  const slash = ref.indexOf('/');
  if (slash < 0) return { vault: checkName('vault', ref) };
  return { vault: checkName('vault', ref.slice(0, slash)), item: checkName('item', ref.slice(slash + 1)) };
}
