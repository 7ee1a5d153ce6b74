"""Registry credentials in ``~/.docker/config.json``, kept exactly as the docker CLI keeps them.

Client side and neutral: the CLI (login, pull, push, build) and ``moor compose`` both read it.

The file (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``) holds ``auths``: one entry per
registry, keyed ``https://index.docker.io/v1/`` for Docker Hub and ``host[:port]`` for any other, each
``{"auth": base64("user:password")}`` (plus ``email``/``identitytoken`` when there are). ``credsStore``
names a helper program for every registry and ``credHelpers`` one per registry: ``docker-credential-NAME
store|get|erase|list`` reads its request on stdin and answers JSON on stdout; the file then keeps an empty
entry for the registry (how ``logout`` knows it was logged in). Every other key of the file is kept as it
was; the file is written whole or not at all (a temp file renamed over it), mode 0600 when new.

:func:`registry_auth_header` is the ``X-Registry-Auth`` value the docker CLI sends: base64url of the JSON
of Docker's ``AuthConfig``.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import sys
from typing import Any

#: Docker Hub's key in ``auths`` (``registry.IndexServer``)
INDEX_SERVER = "https://index.docker.io/v1/"
#: the domain of Docker Hub's repositories
DEFAULT_DOMAIN = "docker.io"
CONFIG_FILENAME = "config.json"
HELPER_PREFIX = "docker-credential-"
#: the user name a helper stores for an identity token
TOKEN_USERNAME = "<token>"
#: what a helper prints when it has nothing for a server
NOT_FOUND = "credentials not found in native keychain"

#: the docker CLI's ``ConfigFile`` keys in the order it writes them (keys it does not know are kept, after them)
CONFIG_KEYS = ("auths", "HttpHeaders", "psFormat", "imagesFormat", "networksFormat", "pluginsFormat",
               "volumesFormat", "statsFormat", "detachKeys", "credsStore", "credHelpers", "serviceInspectFormat",
               "servicesFormat", "tasksFormat", "secretFormat", "configFormat", "nodesFormat", "pruneFilters",
               "proxies", "experimental", "stackOrchestrator", "kubernetes", "currentContext", "cliPluginsExtraDirs",
               "plugins", "aliases")
#: Docker's ``AuthConfig`` fields in the order Go writes them
AUTH_FIELDS = ("username", "password", "auth", "email", "serveraddress", "identitytoken", "registrytoken")

AuthConfig = dict[str, str]


class CredentialsError(Exception):
    """A credential helper failed, or the file could not be read or written."""


def go_json(value: Any, indent: str | None = None) -> str:
    """JSON as Go's ``encoding/json`` writes it: raw UTF-8, ``<``, ``>``, ``&`` escaped, compact or indented."""
    separators = (",", ": ") if indent is not None else (",", ":")
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def auth_json(auth: AuthConfig) -> dict[str, str]:
    """An ``AuthConfig`` as Go marshals it: fields in Docker's order, empty ones left out."""
    return {field: auth[field] for field in AUTH_FIELDS if auth.get(field)}


def encode_auth_header(auth: AuthConfig) -> str:
    """``X-Registry-Auth`` as the docker CLI encodes it (``EncodeAuthToBase64``: base64url with padding)."""
    return base64.urlsafe_b64encode(go_json(auth_json(auth)).encode()).decode()


def config_dir() -> str:
    """``$DOCKER_CONFIG``, else ``~/.docker``."""
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def convert_to_hostname(url: str) -> str:
    """``https://host:5000/v2/`` -> ``host:5000`` (the docker CLI's ``ConvertToHostname``)."""
    for scheme in ("http://", "https://"):
        if url.startswith(scheme):
            url = url[len(scheme):]
            break
    return url.split("/", 1)[0]


def auth_key(domain: str) -> str:
    """The ``auths`` key of a registry domain: Docker Hub's index URL, or the domain itself."""
    return INDEX_SERVER if domain in (DEFAULT_DOMAIN, "index.docker.io") else domain


def _encode_userpass(auth: AuthConfig) -> str:
    if not auth.get("username") and not auth.get("password"):
        return ""
    return base64.b64encode(f"{auth.get('username', '')}:{auth.get('password', '')}".encode()).decode()


def _decode_userpass(text: str, filename: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(text, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise CredentialsError(f"{filename}: illegal base64 data in an auth entry: {err}") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise CredentialsError(f"{filename}: Invalid auth configuration file")
    return user, password.strip("\x00")


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_program(name: str) -> str | None:
    """``name`` on ``$PATH`` (exec.LookPath), without importing shutil."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if _is_executable(candidate):
            return candidate
    return None


def default_store() -> str:
    """Linux's default helper when the file configures none: ``pass`` if installed, else ``secretservice``,
    used only when its ``docker-credential-`` program is on ``$PATH`` (the docker CLI's ``DetectDefaultStore``)."""
    platform_default = "pass" if find_program("pass") else "secretservice"
    return platform_default if find_program(HELPER_PREFIX + platform_default) else ""


class ConfigFile:
    """The docker CLI's config file: its raw JSON (every key kept) and the decoded ``auths``."""

    def __init__(self, filename: str, data: dict[str, Any] | None = None, readable: bool = True) -> None:
        self.filename = filename
        self.data: dict[str, Any] = data if data is not None else {}
        self.readable = readable
        self.auths: dict[str, AuthConfig] = {}
        auths = self.data.get("auths")
        for key, entry in (auths.items() if isinstance(auths, dict) else ()):
            if not isinstance(entry, dict):
                continue
            auth = {field: entry[field] for field in AUTH_FIELDS if isinstance(entry.get(field), str)}
            if auth.get("auth"):
                auth["username"], auth["password"] = _decode_userpass(auth["auth"], filename)
            auth.pop("auth", None)
            auth["serveraddress"] = key
            self.auths[key] = auth

    @classmethod
    def load(cls, directory: str | None = None, warn: bool = True) -> ConfigFile:
        """Read the file; a missing one is empty; an unreadable one warns as Docker does and is never overwritten."""
        filename = os.path.join(directory or config_dir(), CONFIG_FILENAME)
        try:
            with open(filename, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return cls._with_default_store(cls(filename))
        except OSError as err:
            return cls._unreadable(filename, (err.strerror or str(err)).lower(), warn)
        try:
            data = json.loads(raw) if raw.strip() else {}
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return cls._with_default_store(cls(filename, data))
        except (ValueError, UnicodeDecodeError, CredentialsError) as err:
            message = str(err)
            if message.startswith(filename + ": "):
                message = message[len(filename) + 2:]
            return cls._unreadable(filename, message, warn)

    @classmethod
    def _unreadable(cls, filename: str, message: str, warn: bool) -> ConfigFile:
        if warn:
            print(f"WARNING: Error loading config file: {filename}: {message}", file=sys.stderr)
        return cls(filename, readable=False)

    @staticmethod
    def _with_default_store(config: ConfigFile) -> ConfigFile:
        if not config.contains_auth():
            store = default_store()
            if store:
                config.data["credsStore"] = store  # and written with the file, as the docker CLI does
        return config

    def contains_auth(self) -> bool:
        return bool(self.data.get("credsStore") or self.data.get("credHelpers") or self.auths)

    def helper_for(self, server: str) -> str:
        """The helper configured for ``server`` (``credHelpers``), else ``credsStore``, else ""."""
        helpers = self.data.get("credHelpers")
        if isinstance(helpers, dict) and server and isinstance(helpers.get(server), str):
            return str(helpers[server])
        store = self.data.get("credsStore")
        return store if isinstance(store, str) else ""

    def store_for(self, server: str) -> FileStore | NativeStore:
        helper = self.helper_for(server)
        return NativeStore(self, helper) if helper else FileStore(self)

    def get_auth(self, server: str) -> AuthConfig:
        """The credentials for ``server`` (an ``auths`` key) from its store; {} when there are none."""
        return self.store_for(server).get(server)

    def save(self) -> None:
        """Write the file atomically: a temp file beside it (0600, or the old file's mode and owner), renamed."""
        if not self.readable:
            raise CredentialsError(f"{self.filename}: the file could not be read: left as it is")
        data = dict(self.data)
        entries = {}
        for key in sorted(self.auths):
            auth = self.auths[key]
            entry = {"auth": _encode_userpass(auth)}
            entry.update({field: auth[field] for field in ("email", "identitytoken", "registrytoken")
                          if auth.get(field)})
            entries[key] = {k: v for k, v in entry.items() if v}
        data["auths"] = entries
        known = [key for key in CONFIG_KEYS if key in data]
        data = {**{key: data[key] for key in known}, **{k: v for k, v in data.items() if k not in CONFIG_KEYS}}
        text = go_json(data, indent="\t")
        target = self.filename
        try:
            link = os.readlink(target)
            target = os.path.join(os.path.dirname(target), link)
        except OSError:
            pass
        directory = os.path.dirname(target) or "."
        temp = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.{os.urandom(4).hex()}")
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as err:  # Go's words: "open /path: permission denied"
            raise CredentialsError(f"open {err.filename or temp}: {(err.strerror or str(err)).lower()}") from None
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                old = os.stat(target)
                os.chmod(temp, old.st_mode & 0o7777)
                os.chown(temp, old.st_uid, old.st_gid)
            except OSError:
                pass
            os.replace(temp, target)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise


class FileStore:
    """Credentials kept in the file itself (base64 ``user:password``)."""

    is_file_store = True

    def __init__(self, config: ConfigFile) -> None:
        self.config = config

    @property
    def filename(self) -> str:
        return self.config.filename

    def get(self, server: str) -> AuthConfig:
        auth = self.config.auths.get(server)
        if auth is None:
            for key, candidate in self.config.auths.items():
                if convert_to_hostname(key) == server:
                    return dict(candidate)
            return {}
        return dict(auth)

    def store(self, auth: AuthConfig) -> None:
        self.config.auths[auth.get("serveraddress", "")] = dict(auth)
        self.config.save()

    def erase(self, server: str) -> None:
        self.config.auths.pop(server, None)
        self.config.save()


class NativeStore:
    """Credentials kept by a ``docker-credential-NAME`` helper; the file keeps an empty entry (or the email)."""

    is_file_store = False

    def __init__(self, config: ConfigFile, helper: str) -> None:
        self.config = config
        self.program = HELPER_PREFIX + helper
        self.files = FileStore(config)

    def _run(self, action: str, text: str) -> tuple[int, str, str]:
        """Run the helper; (exit status, stdout, Go's error text for a failure to start)."""
        try:
            done = subprocess.run([self.program, action], input=text.encode(), stdout=subprocess.PIPE,
                                  check=False)
        except FileNotFoundError:
            return -1, "", f'exec: "{self.program}": executable file not found in $PATH'
        except OSError as err:
            return -1, "", f"fork/exec {self.program}: {(err.strerror or str(err)).lower()}"
        out = done.stdout.decode(errors="replace")
        return done.returncode, out, "" if done.returncode == 0 else f"exit status {done.returncode}"

    def _fail(self, what: str, error: str, out: str) -> CredentialsError:
        return CredentialsError(f"error {what} credentials - err: {error}, out: `{out.strip()}`")

    def get(self, server: str) -> AuthConfig:
        """The file's entry (email) with the helper's user and secret over it; none found -> empty ones."""
        auth = self.files.get(server)
        for field in ("username", "password", "identitytoken"):
            auth.pop(field, None)
        code, out, error = self._run("get", server)
        if code != 0:
            if out.strip() == NOT_FOUND:
                return auth
            raise self._fail("getting", error, out)
        try:
            answer = json.loads(out)
        except ValueError as err:
            raise CredentialsError(f"{self.program} get: invalid answer: {err}") from None
        if not isinstance(answer, dict):
            raise CredentialsError(f"{self.program} get: invalid answer: not a JSON object")
        username, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
        if username == TOKEN_USERNAME:
            auth["identitytoken"] = secret
        else:
            auth["username"], auth["password"] = username, secret
        return auth

    def store(self, auth: AuthConfig) -> None:
        request = {"ServerURL": auth.get("serveraddress", ""), "Username": auth.get("username", ""),
                   "Secret": auth.get("password", "")}
        if auth.get("identitytoken"):
            request["Username"], request["Secret"] = TOKEN_USERNAME, auth["identitytoken"]
        code, out, error = self._run("store", go_json(request) + "\n")
        if code != 0:
            raise self._fail("storing", error, out)
        kept = {k: v for k, v in auth.items() if k not in ("username", "password", "identitytoken")}
        self.files.store(kept)

    def erase(self, server: str) -> None:
        code, out, error = self._run("erase", server)
        if code != 0:
            raise self._fail("erasing", error, out)
        self.files.erase(server)

    def list(self) -> dict[str, str]:
        code, out, error = self._run("list", "unused")
        if code != 0:
            raise self._fail("listing", error, out)
        try:
            answer = json.loads(out)
        except ValueError as err:
            raise CredentialsError(f"{self.program} list: invalid answer: {err}") from None
        return {str(k): str(v) for k, v in answer.items()} if isinstance(answer, dict) else {}


def resolve_auth(domain: str, config: ConfigFile | None = None) -> AuthConfig:
    """The credentials the docker CLI sends for a registry domain (``ResolveAuthConfig``); {} on any trouble."""
    config = config or ConfigFile.load()
    try:
        return config.get_auth(auth_key(domain))
    except CredentialsError:
        return {}


def registry_auth_header(domain: str) -> str:
    """``X-Registry-Auth`` for a pull, push or search on ``domain``."""
    return encode_auth_header(resolve_auth(domain))


def registry_config_header(config: ConfigFile | None = None) -> str:
    """``X-Registry-Config`` of a build: base64url JSON of every registry login the config file (or its
    stores) holds, as the docker CLI sends them."""
    config = config or ConfigFile.load(warn=False)
    keys = set(config.auths)
    helpers = config.data.get("credHelpers")
    if isinstance(helpers, dict):
        keys |= {str(key) for key in helpers}
    auths: dict[str, Any] = {}
    for key in sorted(keys):
        try:
            auth = config.get_auth(key)
        except CredentialsError:
            continue
        if auth:
            auths[key] = auth_json(auth)
    return base64.urlsafe_b64encode(go_json(auths).encode()).decode()
