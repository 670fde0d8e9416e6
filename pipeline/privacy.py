"""Personal data kept in: the modes of the files cvp writes, and the secret key of the
pseudonymous references it exports.

**File modes.** The warehouse holds names, ID numbers, clear mobiles and whole CUST lines in
quarantine; the exports and the report hold customer-level figures. Every ``cvp`` command
sets the process umask before it writes anything (:func:`restrict_umask`), so whatever it
creates (the DuckDB file and its WAL, export folders and Parquet files, the report) is
readable by its owner only: files 0600, folders 0700. ``privacy.group_readable: true`` gives
the group read access (0640 / 0750), for a team that shares a Unix group. Files that exist
already keep their mode: change it with ``chmod`` once.

**Counterparty references.** ``merchant_network.counterparty_ref`` names another bank's
account (or a counterparty's name) without revealing it: the first 16 hex digits of
HMAC-SHA256 under a secret key. Without the key a reference cannot be reversed by hashing
candidate accounts (a plain hash could: every account in the warehouse is a candidate).
The key is read from, in order: the environment variable ``CVP_REF_KEY`` (the key itself),
the file named by ``CVP_REF_KEY_FILE``, the file ``privacy.ref_key_file``, or else
``<warehouse>.refkey`` beside the warehouse, which is created with a new random key (mode
0600) the first time it is needed, so a demo or a test needs no set-up. A key file must not
be readable by others, and a key must be at least 32 characters.

Rotating the key (docs/privacy.md) changes every reference from the next export on: the same
counterparty has another reference before and after, so a downstream system that joins
references across dates must be told the date of the rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import ConfigError

ENV_KEY = "CVP_REF_KEY"
ENV_KEY_FILE = "CVP_REF_KEY_FILE"
MIN_KEY_CHARS = 32
REF_HEX_DIGITS = 16


def modes(cfg: Config) -> tuple[int, int]:
    """(file mode, folder mode) of what cvp creates."""
    return (0o640, 0o750) if cfg.privacy.group_readable else (0o600, 0o700)


def restrict_umask(cfg: Config) -> None:
    """Set the process umask so that new files and folders get :func:`modes` (a stricter
    umask already set is kept)."""
    wanted = 0o027 if cfg.privacy.group_readable else 0o077
    current = os.umask(wanted)
    os.umask(current | wanted)


def key_path(cfg: Config, environ: Mapping[str, str] | None = None) -> Path:
    """Where the counterparty key file is (when ``CVP_REF_KEY`` does not give the key)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_KEY_FILE):
        return Path(env[ENV_KEY_FILE])
    if cfg.privacy.ref_key_file is not None:
        return cfg.privacy.ref_key_file
    warehouse = cfg.paths.warehouse
    return warehouse.with_name(warehouse.name + ".refkey")


def ref_key(cfg: Config, environ: Mapping[str, str] | None = None) -> bytes:
    """The secret key of counterparty references (see the module's docstring for where from).

    Raises
    ------
    ConfigError
        When a configured key file is missing, readable by others, or the key is too short.
    """
    env = os.environ if environ is None else environ
    if env.get(ENV_KEY):
        return _checked(env[ENV_KEY], f"${ENV_KEY}")
    path = key_path(cfg, env)
    configured = bool(env.get(ENV_KEY_FILE)) or cfg.privacy.ref_key_file is not None
    if not path.exists():
        if configured:
            raise ConfigError(
                f"{path}: counterparty key file not found (privacy.ref_key_file or "
                f"${ENV_KEY_FILE}); create it with `python -c 'import secrets; "
                f"print(secrets.token_hex(32))' > {path} && chmod 600 {path}`"
            )
        _create_key_file(path)
    mode = path.stat().st_mode
    if mode & stat.S_IROTH or mode & stat.S_IWOTH:
        raise ConfigError(
            f"{path}: the counterparty key file is readable by others (mode "
            f"{stat.S_IMODE(mode):o}); `chmod 600 {path}`"
        )
    return _checked(path.read_text(encoding="utf-8").strip(), str(path))


def _checked(key: str, where: str) -> bytes:
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(
            f"{where}: the counterparty key has {len(key)} characters, fewer than "
            f"{MIN_KEY_CHARS}; use e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
        )
    return key.encode("utf-8")


def _create_key_file(path: Path) -> None:
    """A new random key in ``path``, mode 0600, never overwriting one (O_EXCL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")


def counterparty_ref(key: bytes, counterparty: str | None) -> str | None:
    """The pseudonymous reference of a counterparty (its account, or its name).

    >>> counterparty_ref(b"k" * 32, "6222000011112222")
    '981887c8ed9333a7'
    >>> counterparty_ref(b"k" * 32, None) is None
    True
    """
    if counterparty is None:
        return None
    digest = hmac.new(key, counterparty.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:REF_HEX_DIGITS]
