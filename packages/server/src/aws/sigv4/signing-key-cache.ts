import { createHmac } from 'node:crypto';

export const hmac = (key: string | Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/** kSigning = HMAC chain over the credential scope, keyed by `AWS4` + secret. */
export function deriveSigningKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

/**
 * A small least-recently-used map of derived signing keys: four HMACs saved per request on the hot
 * path. Callers add a key only once it has verified a signature, so unauthenticated traffic cannot
 * churn the cache.
 */
export class SigningKeyCache {
  readonly #keys = new Map<string, Buffer>();
  /** The most recently used id: using it again leaves the order as it is (one lookup, no re-insert). */
  #newest: string | undefined;

  constructor(readonly capacity = 64) {}

  get size(): number {
    return this.#keys.size;
  }

  // Date, region and service come from a `/`-separated scope, so none of them contains `/`.
  static id(secret: string, date: string, region: string, service: string): string {
    return `${date}/${region}/${service}/${secret}`;
  }

  get(id: string): Buffer | undefined {
    const key = this.#keys.get(id);
    if (key !== undefined && id !== this.#newest) {
      this.#keys.delete(id);
      this.#keys.set(id, key);
      this.#newest = id;
    }
    return key;
  }

  set(id: string, key: Buffer): void {
    if (id === this.#newest && this.#keys.get(id) === key) return;
    this.#keys.delete(id);
    this.#keys.set(id, key);
    this.#newest = id;
    for (const oldest of this.#keys.keys()) {
      if (this.#keys.size <= this.capacity) break;
      this.#keys.delete(oldest);
    }
  }
}
