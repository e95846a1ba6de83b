"""Read and write the run's data by URI: a local path, or ``s3://bucket/key``.

Local writes are atomic (a temp file in the same folder, then a rename), so a killed step
never leaves half a file behind. S3 goes through boto3 with its standard retry mode;
``AWS_ENDPOINT_URL`` points it at MinIO or moto. Every failure becomes a contract error:
a missing object is bad input (65), a denied bucket is a permission error (77), a dropped
connection or a 5xx is transient (75).

A key taken from an S3 event notification arrives URL-encoded (a space as '+', other bytes as %XX
of their UTF-8); the Sensor hands it over as ``s3+urlencoded://bucket/key`` and ``resolve`` decodes
it, once, wherever a URI is read. A key given as ``s3://`` is always taken as it is.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_plus

from steps.errors import BadInput, BadSetting, PermissionDenied, Transient

if TYPE_CHECKING:
    import pandas as pd

DATA_SUFFIXES = (".parquet", ".pq", ".csv")
# S3's largest single PUT or copy (5 GiB); larger objects go in parts.
SINGLE_PUT_LIMIT = 5 * 2**30
_MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
_DENIED_CODES = {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "500",
}


# The scheme of a URI whose key is URL-encoded as S3 event notifications encode it.
EVENT_KEY_SCHEME = "s3+urlencoded://"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", EVENT_KEY_SCHEME))


def resolve(uri: str) -> str:
    """The URI a read or write goes to: ``s3+urlencoded://b/new+data%C3%A9.parquet`` becomes
    ``s3://b/new dataé.parquet`` (%XX are UTF-8 bytes, '+' a space, decoded once, as AWS documents
    event keys); any other URI as it is."""
    if not uri.startswith(EVENT_KEY_SCHEME):
        return uri
    bucket, _, key = uri[len(EVENT_KEY_SCHEME) :].partition("/")
    if _BAD_ESCAPE.search(key):
        raise BadInput(f"{uri}: not a URL-encoded key (a '%' not followed by two hex digits)")
    try:
        return f"s3://{bucket}/{unquote_plus(key, encoding='utf-8', errors='strict')}"
    except UnicodeDecodeError:
        raise BadInput(f"{uri}: the URL-encoded key is not UTF-8") from None


def join(uri: str, *parts: str) -> str:
    """Append path parts to a URI, local or S3."""
    if is_s3(uri):
        return "/".join([resolve(uri).rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(uri, *parts))


def check_data_uri(uri: str, allowed_prefixes: list[str], what: str = "data-uri") -> str:
    """Refuse a data URI from untrusted input (an event's key): no '..', no control
    characters, and under one of the allowed prefixes when any are set; an event's encoded key is
    checked decoded too."""
    plain = resolve(uri)
    if any(ord(c) < 32 or ord(c) == 127 for c in uri + plain):
        raise BadInput(f"{what} {uri!r}: holds a control character")
    for form in (uri, unquote(uri), plain, unquote(plain)):
        if ".." in form.replace("\\", "/").split("/"):
            # Refused always, prefixes or not: an event's key must not climb out of its prefix.
            fix = (
                "give the key without them"
                if is_s3(uri)
                else f"give the path without them: {Path(uri).resolve()}"
            )
            raise BadInput(
                f"{what} {uri!r}: '..' segments are refused in a data URI (it may come from an untrusted event); {fix}"
            )
    if allowed_prefixes and not any(_under(plain, prefix) for prefix in allowed_prefixes):
        raise BadInput(f"{what} {uri!r}: outside the allowed data prefixes ({', '.join(allowed_prefixes)})")
    return uri


def _under(uri: str, prefix: str) -> bool:
    if is_s3(prefix) != is_s3(uri):
        return False
    if not is_s3(prefix):
        uri, prefix = str(Path(uri).resolve()), str(Path(prefix).resolve())
    base = prefix.rstrip("/")
    return uri == base or uri.startswith(base + "/")


def split_s3(uri: str) -> tuple[str, str]:
    """(bucket, key) of an S3 URI, an event's encoded key decoded."""
    bucket, _, key = resolve(uri)[len("s3://") :].partition("/")
    if not bucket:
        raise BadInput(f"{uri}: an S3 URI needs a bucket (s3://bucket/key)")
    return bucket, key


@cache
def s3_client() -> Any:
    """One client per process; boto3 reads AWS_ENDPOINT_URL and credentials from the environment."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)
    return boto3.client("s3", config=config)


def _s3_error(uri: str, exc: Exception) -> Exception:
    """Classify a boto3/botocore exception by the contract."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            what = "no such bucket" if code == "NoSuchBucket" else "no such object"
            return BadInput(f"{uri}: {what}")
        if code in _DENIED_CODES:
            return PermissionDenied(
                f"{uri}: access denied ({code}); check the credentials and the bucket policy"
            )
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _TRANSIENT_CODES or status >= 500:
            return Transient(f"{uri}: S3 is unavailable ({code or status}); try again")
        return BadInput(f"{uri}: S3 refused the request ({code})")
    if isinstance(exc, NoCredentialsError):
        return BadSetting("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a role)")
    if isinstance(
        exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError
    ):
        return Transient(f"{uri}: cannot reach S3 ({exc}); try again")
    return exc


def _local_error(path: str, exc: OSError) -> Exception:
    if isinstance(exc, FileNotFoundError):
        return BadInput(f"{path}: does not exist")
    if isinstance(exc, PermissionError):
        return PermissionDenied(f"{path}: permission denied")
    if isinstance(exc, IsADirectoryError):
        return BadInput(f"{path}: is a folder, expected a file")
    return exc


def read_bytes(uri: str) -> bytes:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise _s3_error(uri, exc) from None
    try:
        return Path(uri).read_bytes()
    except OSError as exc:
        raise _local_error(uri, exc) from None


def write_bytes(uri: str, data: bytes) -> None:
    """Write a whole object; locally through a temp file and a rename, so readers never see half."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            if len(data) < SINGLE_PUT_LIMIT:  # one PUT: the ETag is the content's MD5, which a copy keeps
                s3_client().put_object(Bucket=bucket, Key=key, Body=data)
            else:
                s3_client().upload_fileobj(io.BytesIO(data), bucket, key)
        except Exception as exc:
            raise _s3_error(uri, exc) from None
        return
    path = Path(uri)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise _local_error(uri, exc) from None


def exists(uri: str) -> bool:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            s3_client().head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:
            error = _s3_error(uri, exc)
            if isinstance(error, BadInput) and "no such object" in str(error):
                return False
            raise error from None
    return Path(uri).exists()


def _is_data_file(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.lower().endswith(DATA_SUFFIXES) and not base.startswith((".", "_"))


def list_files(uri: str) -> list[str]:
    """Every data file (.parquet, .csv) at a URI: the file itself, or all files under the prefix, sorted."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        found = _list_s3(uri, bucket, key)
    else:
        path = Path(uri)
        try:
            if path.is_file():
                return [str(path)]
            if not path.exists():
                raise BadInput(f"{uri}: does not exist")
            found = sorted(str(p) for p in path.rglob("*") if p.is_file() and _is_data_file(p.name))
        except OSError as exc:
            raise _local_error(uri, exc) from None
    if not found:
        raise BadInput(f"{uri}: no data files ({', '.join(DATA_SUFFIXES)}) found")
    return found


def _list_s3(uri: str, bucket: str, key: str) -> list[str]:
    if key and not key.endswith("/") and exists(uri):
        return [resolve(uri)]
    return sorted(f"s3://{bucket}/{obj['Key']}" for obj in _s3_objects(uri) if _is_data_file(obj["Key"]))


def _s3_objects(uri: str) -> list[dict[str, Any]]:
    """Every object under an S3 prefix (as a folder), as list_objects_v2 describes it."""
    bucket, key = split_s3(uri)
    prefix = key.rstrip("/") + "/" if key else ""
    try:
        paginator = s3_client().get_paginator("list_objects_v2")
        return [
            obj
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        ]
    except Exception as exc:
        raise _s3_error(uri, exc) from None


def list_objects(uri: str) -> list[str]:
    """Every object under an S3 prefix (as a folder), whatever its kind, as sorted ``s3://`` URIs."""
    bucket, _ = split_s3(uri)
    return sorted(f"s3://{bucket}/{obj['Key']}" for obj in _s3_objects(uri))


def list_versions(uri: str, settled_before: float | None = None) -> list[tuple[str, str]]:
    """(URI, version) of every data file under a folder or prefix; the version changes with the
    content (the ETag on S3, size and mtime locally). Local files modified after ``settled_before``
    (a timestamp) are left out: they may still be being written."""
    if is_s3(uri):
        bucket, _ = split_s3(uri)
        objects = _s3_objects(uri)
        return sorted(
            (f"s3://{bucket}/{o['Key']}", o["ETag"].strip('"')) for o in objects if _is_data_file(o["Key"])
        )
    try:
        files = [p for p in Path(uri).rglob("*") if p.is_file() and _is_data_file(p.name)]
        stats = {p: p.stat() for p in files}
    except OSError as exc:
        raise _local_error(uri, exc) from None
    return sorted(
        (str(p), f"{st.st_size}-{st.st_mtime_ns}")
        for p, st in stats.items()
        if settled_before is None or st.st_mtime < settled_before
    )


def read_table(uri: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one Parquet or CSV file into a DataFrame, naming the file in any error."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = read_bytes(uri)
    if not data:
        raise BadInput(f"{uri}: empty file (0 bytes)")
    is_csv = resolve(uri).lower().endswith(".csv")
    try:
        if is_csv:
            _check_csv_header(data, uri)
            return pd.read_csv(io.BytesIO(data), usecols=columns, encoding="utf-8", low_memory=False)
        return pq.read_table(io.BytesIO(data), columns=columns).to_pandas()
    except UnicodeDecodeError as exc:
        raise BadInput(f"{uri}: not UTF-8 text (byte {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise BadInput(f"{uri}: empty file (no header or rows)") from None
    except (pd.errors.ParserError, pa.ArrowException, OSError, ValueError) as exc:
        kind = "CSV" if is_csv else "Parquet"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInput(f"{uri}: not a readable {kind} file ({first_line})") from None


def _check_csv_header(data: bytes, uri: str) -> None:
    """pandas renames a repeated CSV column to ``name.1``; refuse it while the names are still visible."""
    import csv

    header = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")]), [])
    seen = set()
    for name in header:
        if name in seen and name.strip():
            raise BadInput(f"{uri}: column '{name}' appears more than once")
        seen.add(name)


def write_table(frame: pd.DataFrame, uri: str) -> None:
    """Write a DataFrame as Parquet (or CSV when the URI ends in .csv)."""
    buffer = io.BytesIO()
    if resolve(uri).lower().endswith(".csv"):
        frame.to_csv(buffer, index=False)
    else:
        frame.to_parquet(buffer, index=False)
    write_bytes(uri, buffer.getvalue())


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def write_json(uri: str, value: Any) -> None:
    write_bytes(uri, json.dumps(value, indent=2, sort_keys=True, default=str).encode())
