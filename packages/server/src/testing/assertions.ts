import assert from 'node:assert/strict';

/** Asserts that an AWS SDK call fails with the given error type, HTTP status and (optionally) message. */
export async function rejectsWith(
  p: Promise<unknown>,
  name: string,
  status: number,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(p, (e: { name: string; message: string; $metadata: { httpStatusCode?: number } }) => {
    assert.equal(e.name, name);
    assert.equal(e.$metadata.httpStatusCode, status);
    if (message) assert.match(e.message, message);
    return true;
  });
}
