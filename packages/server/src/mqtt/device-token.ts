import { createHmac, timingSafeEqual } from 'node:crypto';

/** Domain separation: a device token can never be mistaken for another HMAC the server computes. */
const LABEL = 'otter-mqtt-device-token-v1';

/**
 * The MQTT password of a device on the plain (non-TLS) listener: base64url HMAC-SHA256 of the thing
 * name, keyed with the server secret. Anyone holding the secret can mint tokens, so hand them out
 * like credentials; rotating the secret revokes them all.
 */
export function deviceToken(secret: string, thingName: string): string {
  return createHmac('sha256', secret).update(`${LABEL}\n${thingName}`).digest('base64url');
}

/** Constant-time check of a presented password against the thing's token. */
export function verifyDeviceToken(secret: string, thingName: string, password: Buffer | undefined): boolean {
  if (!password) return false;
  const expected = Buffer.from(deviceToken(secret, thingName), 'utf8');
  return password.length === expected.length && timingSafeEqual(password, expected);
}
