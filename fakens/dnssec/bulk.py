"""Many signatures at once: the cryptography of a big zone spread over a process pool.

The signer builds the signed data of each RRSIG (RFC 4034 3.1.8.1) itself; this module
only applies the keys' own ``sign`` (dnspython's ``dns.dnssecalgs`` over the
``cryptography`` package) to it, in this process for a small batch, in worker processes
(one per CPU, each given the private keys once, as PKCS#8) for a batch of
:data:`PARALLEL_FROM` signatures or more on a multicore machine::

    chunks = [[(0, data1), (1, data2)], [(0, data3)]]      # (index of the key in *keys*, signed data)
    sign_chunks(keys, chunks, total=3)                      # [[sig1, sig2], [sig3]]
    sign_chunks(keys, chunks, total=3, workers=2)           # the same, in two worker processes

Workers are started with ``spawn`` (never ``fork``: a server's threads may hold locks), so a
script that signs a big zone needs the usual ``if __name__ == "__main__":`` guard. When no
pool can be made (no process support in a sandbox), the signatures are made here.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from cryptography.hazmat.primitives import serialization
from dns.dnssecalgs.base import GenericPrivateKey

from fakens.dnssec.keys import SigningKey

PARALLEL_FROM = 20_000
"""Batches of this many signatures or more are signed in worker processes (when there are several CPUs)."""
CHUNK = 2_000
"""Signatures per task sent to a worker."""

Chunk = list[tuple[int, bytes]]
_worker_keys: list[GenericPrivateKey] = []


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def workers_for(total: int, workers: int | None = None) -> int:
    """How many worker processes sign a batch of *total* signatures: *workers* when given
    (1: none, in this process), else one per CPU from :data:`PARALLEL_FROM` on."""
    if workers is not None:
        return max(1, workers)
    return cpus() if total >= PARALLEL_FROM else 1


def sign_chunks(keys: Sequence[SigningKey], chunks: Iterable[Chunk], total: int,
                workers: int | None = None) -> list[list[bytes]]:
    """The signature of each (key index, data) of *chunks*, chunk by chunk, in order. The
    chunks are consumed as the workers sign the first ones (build them lazily)."""
    count = workers_for(total, workers)
    pending = iter(chunks)
    handed: list[Chunk] = []
    if count > 1:
        blobs = [(type(k.private), _pkcs8(k)) for k in keys]

        def kept() -> Iterator[Chunk]:
            for chunk in pending:
                handed.append(chunk)
                yield chunk

        try:
            with ProcessPoolExecutor(max_workers=count, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_start_worker, initargs=(blobs,)) as pool:
                return list(pool.map(_sign_chunk, kept()))
        except (OSError, BrokenProcessPool):
            pass  # no processes here: every chunk signed in this one, below
    privates = [k.private for k in keys]
    return [[privates[i].sign(data, verify=False) for i, data in chunk] for chunk in itertools.chain(handed, pending)]


def _pkcs8(key: SigningKey) -> bytes:
    raw: Any = getattr(key.private, "key")  # noqa: B009 (each algorithm's class holds its cryptography key there)
    der: bytes = raw.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    return der


def _start_worker(blobs: list[tuple[type[GenericPrivateKey], bytes]]) -> None:
    _worker_keys[:] = [cls(serialization.load_der_private_key(der, password=None)) for cls, der in blobs]


def _sign_chunk(chunk: Chunk) -> list[bytes]:
    keys = _worker_keys
    return [keys[i].sign(data, verify=False) for i, data in chunk]
