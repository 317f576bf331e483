import { invalidRequest } from '@otter/core';

export const MAX_ARTIFACT_NAME_LENGTH = 1024;
const NAME = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/**
 * Checks an artifact name (already URL-decoded): segments of `A-Z a-z 0-9 . _ -` joined by `/`,
 * at most 1024 characters, no `.` or `..` segment. Such names need no escaping in a URL path.
 */
export function validateArtifactName(name: string): string {
  if (name.length === 0 || name.length > MAX_ARTIFACT_NAME_LENGTH) {
    throw invalidRequest(`Artifact names have 1 to ${MAX_ARTIFACT_NAME_LENGTH} characters`);
  }
  if (!NAME.test(name) || name.split('/').some((s) => s === '.' || s === '..')) {
    throw invalidRequest(
      `Invalid artifact name '${name.slice(0, 100)}': use segments of A-Z a-z 0-9 . _ - separated by '/', ` +
        "without '.' or '..' segments",
    );
  }
  return name;
}

/** Decodes the percent-encoded name taken from a request path, then validates it. */
export function decodeArtifactName(rawName: string): string {
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    throw invalidRequest('Invalid percent-encoding in artifact name');
  }
  return validateArtifactName(name);
}
