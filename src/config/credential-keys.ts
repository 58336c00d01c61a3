/**
 * Keys that look like credentials. ckptd never reads credentials from its config (SPEC section 8):
 * the remote's come only from the AWS SDK's default chain. Contract: `looksLikeCredential` is
 * asked only about keys the schema does not know, anywhere in the file; the loader then reports
 * `CREDENTIAL_KEY_MESSAGE` instead of "unknown key", and neither repeats the key's value.
 */

/** Parts of a key name (lower-cased, `_`, `-` and spaces dropped) that mark a credential. */
const CREDENTIAL_PARTS = ['secret', 'password', 'passwd', 'token', 'credential', 'accesskey', 'keyid', 'apikey', 'privatekey', 'profile', 'auth'];

/** Whole key names (lower-cased, `_`, `-` and spaces dropped) that mark a credential. */
const CREDENTIAL_NAMES = ['key', 'pass', 'login'];

/** True when an unknown key's name looks like a credential (`secret_access_key`, `aws_profile`, `session-token`, ...). */
export function looksLikeCredential(key: string): boolean {
  const squashed = key.toLowerCase().replace(/[-_\s]/g, '');
  return CREDENTIAL_NAMES.includes(squashed) || CREDENTIAL_PARTS.some((part) => squashed.includes(part));
}

/** What the loader says about a credential-looking key `key`; it never includes the value. */
export function credentialKeyMessage(key: string): string {
  return (
    `"${key}" looks like a credential, and credentials never go in the config: ckptd takes them only from the AWS SDK default chain, ` +
    'that is the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), AWS_PROFILE with ~/.aws/credentials, or the instance role. ' +
    'Remove the key and its value from this file (and rotate the secret if the file was shared)'
  );
}
