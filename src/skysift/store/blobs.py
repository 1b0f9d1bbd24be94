"""Where large opaque files live: a folder of the data directory, or an S3-compatible bucket.

One small interface, :class:`BlobStore` (put many, get, list under a prefix), with two
implementations chosen by a URL:

- a path (or ``file://PATH``): :class:`DirStore`, files written atomically (a temporary file in
  the same folder, then a rename), so a reader never sees half a file;
- ``s3://BUCKET[/PREFIX]``: :class:`S3Store`, any S3-compatible service (AWS S3, MinIO, Ceph
  RGW, ...) through boto3 (the ``s3`` extra: ``pip install 'skysift[s3]'``). ``s3_endpoint_url``
  names a service other than AWS; the credentials come from ``s3_access_key_id`` /
  ``s3_secret_access_key`` when set, else from boto3's own chain (``AWS_*`` variables,
  ``~/.aws``, an instance role). Uploads of one batch run in parallel (``s3_max_workers``
  connections): an S3 PUT costs a round trip, and a batch of alerts is thousands of them.

Keys are ``/``-separated relative names (``123/456123/789-science.fits``); ``..`` and absolute
keys are refused, so a key can never escape the folder.

>>> import tempfile
>>> store = open_blob_store(tempfile.mkdtemp())
>>> store.put_many({"a/1.txt": b"one", "a/2.txt": b"two", "b/3.txt": b"three"})
3
>>> sorted(store.keys("a/"))
['a/1.txt', 'a/2.txt']
>>> store.get("b/3.txt"), store.get("b/4.txt")
(b'three', None)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from skysift.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from skysift.config import Settings

__all__ = ["BlobStore", "DirStore", "S3Store", "open_blob_store"]


class BlobStore(Protocol):
    """A place for opaque files, by key."""

    #: where it is, for messages (a path or ``s3://bucket/prefix``; never a credential)
    location: str

    def put_many(self, items: Mapping[str, bytes]) -> int:
        """Write every ``key: data``; the number written. Overwrites a key that exists."""

    def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None when there is no such key."""

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key starting with ``prefix`` (a folder prefix ends with ``/``)."""

    def delete_many(self, keys: Iterable[str]) -> int:
        """Remove every key (a missing key is not an error); the number asked for."""

    def open_read(self, key: str) -> IO[bytes] | None:
        """A stream of the bytes under ``key`` (read without holding them all), or None."""


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"bad blob key {key!r}: relative, /-separated, no empty, . or .. parts")
    return key


class DirStore:
    """Blobs as files under a folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)

    def __repr__(self) -> str:
        return f"DirStore({self.location!r})"

    def put_many(self, items: Mapping[str, bytes]) -> int:
        for key, data in items.items():
            path = self.root / _check_key(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".blob.", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return len(items)

    def get(self, key: str) -> bytes | None:
        try:
            return (self.root / _check_key(key)).read_bytes()
        except FileNotFoundError:
            return None

    def open_read(self, key: str) -> IO[bytes] | None:
        try:
            return open(self.root / _check_key(key), "rb")
        except FileNotFoundError:
            return None

    def delete_many(self, keys: Iterable[str]) -> int:
        n = 0
        for key in keys:
            path = self.root / _check_key(key)
            path.unlink(missing_ok=True)
            n += 1
            parent = path.parent
            while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # an emptied folder goes too
                parent = parent.parent
        return n

    def keys(self, prefix: str) -> Iterator[str]:
        folder, _, _name = prefix.rpartition("/")
        base = self.root / folder if folder else self.root
        if folder:
            _check_key(folder)
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".blob."):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key


class S3Store:
    """Blobs as objects of an S3-compatible bucket, under an optional key prefix."""

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, max_workers: int = 16,
                 check: bool = True) -> None:
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError("an s3:// store needs boto3: pip install 'skysift[s3]'") from exc
        self._errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
        self._client_error = botocore.exceptions.ClientError
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.location = f"s3://{bucket}/{self.prefix}" + (f" at {endpoint_url}" if endpoint_url
                                                           else "")
        self.max_workers = max(1, max_workers)
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=botocore.config.Config(max_pool_connections=self.max_workers,
                                          retries={"max_attempts": 5, "mode": "standard"},
                                          connect_timeout=10, read_timeout=60))
        if check:
            try:
                self._client.head_bucket(Bucket=bucket)
            except self._errors as exc:
                raise ConfigError(f"cannot use the S3 bucket {bucket!r}: {_s3_reason(exc)}",
                                  location=self.location) from exc

    def __repr__(self) -> str:  # never the credentials
        return f"S3Store({self.location!r})"

    def put_many(self, items: Mapping[str, bytes]) -> int:
        if not items:
            return 0

        def put(pair: tuple[str, bytes]) -> None:
            self._client.put_object(Bucket=self.bucket, Key=self.prefix + _check_key(pair[0]),
                                    Body=pair[1])

        try:
            if len(items) == 1 or self.max_workers == 1:
                for pair in items.items():
                    put(pair)
            else:
                with ThreadPoolExecutor(min(self.max_workers, len(items))) as pool:
                    list(pool.map(put, items.items()))
        except self._errors as exc:
            raise StoreError(f"cannot write to {self.location}: {_s3_reason(exc)}") from exc
        return len(items)

    def get(self, key: str) -> bytes | None:
        body = self.open_read(key)
        if body is None:
            return None
        try:
            with body:
                data: bytes = body.read()
        except self._errors as exc:
            raise StoreError(f"cannot read {key} from {self.location}: {_s3_reason(exc)}") \
                from exc
        return data

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix):]
        except self._errors as exc:
            raise StoreError(f"cannot list {self.location}{prefix}: {_s3_reason(exc)}") from exc

    def delete_many(self, keys: Iterable[str]) -> int:
        wanted = [self.prefix + _check_key(k) for k in keys]
        try:
            for i in range(0, len(wanted), 1000):  # DeleteObjects takes 1,000 keys at most
                reply = self._client.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": k} for k in wanted[i:i + 1000]], "Quiet": True})
                errors = reply.get("Errors") or []
                if errors:  # Quiet mode lists only the keys that were not deleted
                    first = errors[0]
                    raise StoreError(f"cannot delete {len(errors)} key(s) from {self.location}; "
                                     f"first {first.get('Key')}: {first.get('Code')} "
                                     f"{first.get('Message') or ''}".strip())
        except self._errors as exc:
            raise StoreError(f"cannot delete from {self.location}: {_s3_reason(exc)}") from exc
        return len(wanted)

    def open_read(self, key: str) -> IO[bytes] | None:
        try:
            reply = self._client.get_object(Bucket=self.bucket, Key=self.prefix + _check_key(key))
        except self._client_error as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise StoreError(f"cannot read {key} from {self.location}: {_s3_reason(exc)}") \
                from exc
        except self._errors as exc:
            raise StoreError(f"cannot read {key} from {self.location}: {_s3_reason(exc)}") \
                from exc
        body: IO[bytes] = reply["Body"]  # botocore's StreamingBody: read(n), close()
        return body


def _s3_reason(exc: Exception) -> str:
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        err = response["Error"]
        code = err.get("Code", "?")
        return f"{code} {err.get('Message') or ''}".strip()
    return str(exc)


def open_blob_store(url: str | Path, settings: Settings | None = None) -> BlobStore:
    """The store a URL names: ``s3://bucket/prefix`` (S3 settings from ``settings``), else a
    folder (``file://`` optional)."""
    text = str(url)
    if text.startswith("s3://"):
        bucket, _, prefix = text[5:].partition("/")
        if not bucket:
            raise ConfigError(f"an S3 URL names a bucket: s3://BUCKET[/PREFIX], not {text!r}")
        return S3Store(
            bucket, prefix,
            endpoint_url=getattr(settings, "s3_endpoint_url", None),
            region=getattr(settings, "s3_region", None),
            access_key_id=getattr(settings, "s3_access_key_id", None),
            secret_access_key=getattr(settings, "s3_secret_access_key", None),
            max_workers=getattr(settings, "s3_max_workers", 16))
    if "://" in text and not text.startswith("file://"):
        raise ConfigError(f"unknown store URL {text!r}: a folder path or s3://BUCKET[/PREFIX]")
    return DirStore(Path(text.removeprefix("file://")).expanduser())
