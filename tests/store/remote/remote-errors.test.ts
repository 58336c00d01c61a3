/** The fix a failed remote call's message names, for the failures a user can act on. */
import { describe, expect, it } from 'vitest';
import { RemoteError, remoteError } from '../../../src/store/remote/remote-errors.js';

const errno = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('remoteError', () => {
  it('a sandbox that forbids IP sockets is named with the way to open it', () => {
    // What Node throws when seccomp's RestrictAddressFamilies=AF_UNIX refuses socket(AF_INET).
    const err = remoteError('PutObject', 's3://b/k', 1, errno('EAFNOSUPPORT', 'connect EAFNOSUPPORT 127.0.0.1:9000'));
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as Error).message).toMatch(/may not open network sockets.*ckptd install-service --force/);
  });

  it('an unknown host names remote.endpoint', () => {
    const err = remoteError('ListObjectsV2', 's3://b/p', 1, errno('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere.invalid'));
    expect((err as Error).message).toMatch(/check remote.endpoint/);
  });

  it('a local error met while streaming passes unchanged', () => {
    const local = errno('ENOENT', 'no such file');
    expect(remoteError('PutObject', 's3://b/k', 1, local)).toBe(local);
  });
});
