"""Files that are whole or absent, and storage faults that answer 503 instead of 500.

Every file Laurels writes (uploaded and imported images, baked images, the keys it makes
for itself) goes through `atomic_write`: the bytes go to a temporary name in the same
directory, are flushed to the disk, and only then take their name. A write cut short by
a full disk, a quota or a crash therefore leaves nothing behind, rather than an empty or
truncated file that would be served as a badge image for ever. `AtomicFileSystemStorage`
is Django's default storage (`settings.STORAGES`) built on it.

A full, read-only or failing disk is not a bug in the request: `storage_fault` recognises
it (from the operating system, SQLite or PostgreSQL), and the entry points answer 503
"storage is full or unavailable" for it: `StorageFaultMiddleware` for pages and public
files, `laurels.api.errors` in the /v2 envelope.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from django.core.files.storage import FileSystemStorage
from django.http import HttpRequest, HttpResponse

from laurels.core.errors import DomainError

logger = logging.getLogger(__name__)

# Operating-system errors that mean "the disk cannot take this write", not "bad request".
STORAGE_FAULT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO})
# SQLite's primary result codes for the same: SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL.
SQLITE_FAULT_CODES = frozenset({8, 10, 13})
# PostgreSQL's SQLSTATEs for the same: disk_full, read_only_sql_transaction (a standby).
POSTGRES_FAULT_STATES = frozenset({"53100", "25006"})
RETRY_AFTER_SECONDS = 60


class StorageUnavailable(DomainError):
    """The disk (or the database's) is full, read-only or failing; nothing was saved."""

    status = 503
    default_message = "Storage is full or unavailable; nothing was saved. Try again later."


def _is_fault(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in STORAGE_FAULT_ERRNOS:
        return True
    sqlite_code = getattr(error, "sqlite_errorcode", None)
    if sqlite_code is not None and sqlite_code & 0xFF in SQLITE_FAULT_CODES:
        return True
    return getattr(error, "sqlstate", None) in POSTGRES_FAULT_STATES


def storage_fault(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from, is a full, read-only or failing
    disk (Django wraps the database driver's errors, so the causes are looked at too)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if _is_fault(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


# --- writing files whole ---------------------------------------------------------------------


def fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` survive a crash (a file's own fsync does not)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno != errno.EINVAL:  # file systems that cannot sync a directory
            raise
    finally:
        os.close(fd)


def atomic_write(
    path: Path, chunks: Iterable[bytes | str], *, overwrite: bool = False, mode: int = 0o600
) -> None:
    """Write `chunks` to `path` so that it appears whole or not at all.

    The bytes go to a private temporary file beside `path`, which is flushed to the disk
    and then linked into place (or renamed over an existing file when `overwrite`). Any
    failure removes the temporary file and is raised as it was; a `path` that already
    exists raises FileExistsError and is left alone unless `overwrite`.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk.encode() if isinstance(chunk, str) else chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    fsync_directory(path.parent)


class AtomicFileSystemStorage(FileSystemStorage):
    """Django's file-system storage, writing each file with `atomic_write`.

    Django's own writes straight into the final name, so a write that fails half-way
    leaves a truncated file that later reads take for the real one.
    """

    def _save(self, name: str, content) -> str:
        full_path = Path(self.path(name))
        directory_mode = self.directory_permissions_mode or 0o700
        try:
            full_path.parent.mkdir(mode=directory_mode, parents=True, exist_ok=True)
        except FileExistsError:
            raise FileExistsError(f"{full_path.parent} exists and is not a directory.") from None
        while True:
            try:
                atomic_write(
                    full_path,
                    content.chunks(),
                    overwrite=self._allow_overwrite,
                    mode=self.file_permissions_mode or 0o600,
                )
                break
            except FileExistsError:
                name = self.get_available_name(name)
                full_path = Path(self.path(name))
        self._ensure_location_group_id(str(full_path))
        return os.path.relpath(full_path, self.location).replace("\\", "/")


# --- answering for a storage fault -----------------------------------------------------------


class StorageFaultMiddleware:
    """A page or public file whose view hit a full or read-only disk answers 503 with
    Retry-After instead of a generic 500 (the /v2 API does the same in its envelope)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not storage_fault(exception):
            return None
        log_storage_fault(request, exception)
        response = HttpResponse(
            StorageUnavailable.default_message, status=503, content_type="text/plain"
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def log_storage_fault(request: HttpRequest, error: BaseException) -> None:
    """One warning line (not a traceback): the operator's disk, not the code, is at fault."""
    logger.warning("Storage full or unavailable in %s %s: %s", request.method, request.path, error)
