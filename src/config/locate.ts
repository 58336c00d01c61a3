/**
 * Where the config lives when `--config` is not given (SPEC section 2): `$CKPTD_CONFIG`, then
 * `./ckptd.yaml`, then `$XDG_CONFIG_HOME/ckptd/config.yaml` (default `~/.config`), then
 * `/etc/ckptd/config.yaml`. Pure: the caller passes the environment and an existence check.
 */
import path from 'node:path';

export function resolveConfigPath(
  explicit: string | undefined,
  env: Record<string, string | undefined>,
  cwd: string,
  exists: (p: string) => boolean,
): { path: string } | { tried: string[] } {
  if (explicit !== undefined) return { path: path.resolve(cwd, explicit) };
  if (env.CKPTD_CONFIG) return { path: path.resolve(cwd, env.CKPTD_CONFIG) };
  const xdg = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, '.config') : null);
  const candidates = [path.join(cwd, 'ckptd.yaml'), ...(xdg ? [path.join(xdg, 'ckptd', 'config.yaml')] : []), '/etc/ckptd/config.yaml'];
  const found = candidates.find((c) => exists(c));
  return found ? { path: found } : { tried: candidates };
}
