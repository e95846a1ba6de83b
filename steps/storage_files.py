"""Whole files under a URI, local or S3: listed with their sizes, stat'ed, copied, deleted (the step cache's
moves). Like ``steps.storage``, every failure is a contract error, and a copy appears whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from steps import storage
from steps.errors import BadInput


def walk(uri: str) -> dict[str, tuple[int, str | None]]:
    """Every file under a folder or prefix, by path relative to it: (size, S3 ETag, or None locally)."""
    if storage.is_s3(uri):
        base = storage.split_s3(uri)[1].rstrip("/") + "/"
        return {o["Key"][len(base) :]: (o["Size"], o["ETag"].strip('"')) for o in storage._s3_objects(uri)}
    root = Path(uri)
    try:
        return {str(p.relative_to(root)): (p.stat().st_size, None) for p in root.rglob("*") if p.is_file()}
    except OSError as exc:
        raise storage._local_error(uri, exc) from None


def stat(uri: str) -> tuple[int, str] | None:
    """(size, version) of one file, or None when it is gone; the version changes with every write
    (the ETag on S3; the inode and mtime locally, since local writes always rename a new file in)."""
    if storage.is_s3(uri):
        bucket, key = storage.split_s3(uri)
        try:
            head = storage.s3_client().head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            error = storage._s3_error(uri, exc)
            if isinstance(error, BadInput):
                return None
            raise error from None
        return head["ContentLength"], head["ETag"].strip('"')
    try:
        st = Path(uri).stat()
    except FileNotFoundError:
        return None
    return st.st_size, f"{st.st_ino}-{st.st_mtime_ns}"


def copy(source: str, target: str) -> None:
    """Copy one file whole: server-side on S3; locally a hard link (free, and safe because every local
    write renames a new file in) or, across filesystems, a copy; the target appears at once."""
    if storage.is_s3(source) and storage.is_s3(target):
        (bucket, key), (to_bucket, to_key) = storage.split_s3(source), storage.split_s3(target)
        try:
            source_object = {"Bucket": bucket, "Key": key}
            size = (stat(source) or (0, ""))[0]
            if size < storage.SINGLE_PUT_LIMIT:  # one request: the copy's ETag is the content's MD5
                storage.s3_client().copy_object(CopySource=source_object, Bucket=to_bucket, Key=to_key)
            else:
                storage.s3_client().copy(source_object, to_bucket, to_key)
        except Exception as exc:
            raise storage._s3_error(source, exc) from None
        return
    if storage.is_s3(source) or storage.is_s3(target):
        storage.write_bytes(target, storage.read_bytes(source))
        return
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.link")
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            import shutil

            shutil.copyfile(source, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise storage._local_error(source, exc) from None


def delete(uri: str) -> None:
    """Remove one file; one already gone is no error."""
    if storage.is_s3(uri):
        bucket, key = storage.split_s3(uri)
        try:
            storage.s3_client().delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise storage._s3_error(uri, exc) from None
        return
    try:
        Path(uri).unlink(missing_ok=True)
    except OSError as exc:
        raise storage._local_error(uri, exc) from None
