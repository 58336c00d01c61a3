/**
 * The unit files shipped in `systemd/` for package installs (`ckptd` on PATH, config in the usual
 * place), rendered by the same code as `ckptd install-service` so the two never drift apart:
 * `ckptd.service` (system), `ckptd@.service` (one daemon per `/etc/ckptd/<instance>.yaml`) and
 * `user/ckptd.service` (`systemctl --user`). A test checks the files equal this output;
 * `writePackageUnits('systemd')` regenerates them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { renderUnit } from './render-unit.js';

const USERADD = 'useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ckptd';

/** Each shipped unit: its path relative to `systemd/`, and its text. */
export function packageUnits(): { file: string; text: string }[] {
  const system = {
    scope: 'system' as const,
    user: 'ckptd',
    writable: [],
    mountsFor: [],
    privateTmp: true,
    // No config is known here: private, as for a config without `remote:` (the unit says how to open it).
    network: false,
    priority: 'low' as const,
    stateDirectory: 'ckptd',
  };
  return [
    {
      file: 'ckptd.service',
      text: renderUnit({
        ...system,
        exec: '/usr/bin/env ckptd daemon --config /etc/ckptd/config.yaml',
        header: [
          'ckptd as a system service, for a package install (`ckptd` and `node` in /usr/local/bin or /usr/bin).',
          'Prefer `ckptd install-service`: it writes this unit with your node, your config, and the runs\'',
          'folders, stores and save folders as ReadWritePaths=. To use this file as it is:',
          `  ${USERADD}`,
          '  cp ckptd.service /etc/systemd/system/',
          '  ckptd init /srv/train/output --config /etc/ckptd/config.yaml',
          '  systemctl edit ckptd   # [Service] ReadWritePaths=/srv/train  (the runs, stores, save folders)',
          '  systemctl daemon-reload && systemctl enable --now ckptd',
          'The file system is read-only to the daemon except ReadWritePaths= and /var/lib/ckptd (StateDirectory=),',
          'a good place for stores. Reload the config: systemctl reload ckptd (or just save the file).',
        ],
      }),
    },
    {
      file: 'ckptd@.service',
      text: renderUnit({
        ...system,
        description: 'ckptd (%i): backups and saves of model training runs',
        exec: '/usr/bin/env ckptd daemon --config /etc/ckptd/%i.yaml',
        header: [
          'One ckptd per config: ckptd@lora.service runs `ckptd daemon --config /etc/ckptd/lora.yaml`.',
          'Each instance needs its runs\' folders, stores and save folders writable:',
          `  ${USERADD}`,
          '  cp ckptd@.service /etc/systemd/system/',
          '  systemctl edit ckptd@lora   # [Service] ReadWritePaths=/srv/lora-train',
          '  systemctl daemon-reload && systemctl enable --now ckptd@lora',
          'Or render a unit per config with the paths filled in:',
          '  ckptd install-service --config /etc/ckptd/lora.yaml --name ckptd-lora',
        ],
      }),
    },
    {
      file: 'user/ckptd.service',
      text: renderUnit({
        scope: 'user',
        exec: '/usr/bin/env ckptd daemon --config %h/.config/ckptd/config.yaml',
        user: '',
        writable: [],
        mountsFor: [],
        privateTmp: false,
        network: true,
        priority: 'low',
        header: [
          'ckptd as a user service (`systemctl --user`), for a package install (`ckptd` and `node` on the default PATH).',
          'Prefer `ckptd install-service --user`: it writes this unit with your node and your config. As it is:',
          '  mkdir -p ~/.config/systemd/user && cp ckptd.service ~/.config/systemd/user/',
          '  ckptd init ~/train/output --config ~/.config/ckptd/config.yaml',
          '  systemctl --user daemon-reload && systemctl --user enable --now ckptd',
          '  loginctl enable-linger "$USER"   # keep it running while logged out, and start it at boot',
        ],
      }),
    },
  ];
}

/** Writes every `packageUnits()` file under `dir` (the repository's `systemd/`). */
export function writePackageUnits(dir: string): void {
  for (const u of packageUnits()) {
    fs.mkdirSync(path.dirname(path.join(dir, u.file)), { recursive: true });
    fs.writeFileSync(path.join(dir, u.file), u.text);
  }
}
