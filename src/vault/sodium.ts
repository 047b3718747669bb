/**
 * libsodium, loaded on first use only. It is needed for argon2id (a passphrase-derived master key:
 * `crypto_pwhash`, in the sumo build) and nothing else: sealing is Node's ChaCha20-Poly1305
 * (xchacha.ts) and the key id is blake2b.ts, so an ordinary start never loads its WebAssembly.
 */
export type Sodium = typeof import('libsodium-wrappers-sumo').default;

let readyPromise: Promise<Sodium> | undefined;

export function getSodium(): Promise<Sodium> {
  if (!readyPromise) {
    readyPromise = import('libsodium-wrappers-sumo').then(async (m) => {
      await m.default.ready;
      return m.default;
    });
    // A failed load is not remembered: the next call tries again and reports its own error.
    readyPromise.catch(() => (readyPromise = undefined));
  }
  return readyPromise;
}
