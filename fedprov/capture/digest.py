"""SHA-256 digests of Flower ``ArrayRecord`` contents (``fedprov-arrays-v1``).

The digest covers the arrays only, never the record's metadata, so a global
model, a client update and a checkpoint that hold the same numbers get the
same ``fl:sha256``. For each array, in ascending key order (Unicode code
points), the hash reads:

1. the key as UTF-8, then a NUL byte;
2. the numpy dtype name of the little-endian array (``float32``), a NUL byte;
3. the shape as decimal integers joined by ``,`` (empty for a scalar), a NUL
   byte;
4. the array's bytes in C order, little-endian.

An ``Array`` whose ``stype`` is not ``numpy.ndarray`` cannot be decoded to
numbers, so its serialized ``data`` bytes stand in for step 4 and its
``dtype`` string for step 2.
"""

from __future__ import annotations

import hashlib

import numpy as np
from flwr.app import Array, ArrayRecord

__all__ = ["DIGEST_METHOD", "array_sha256_update", "arrays_sha256"]

#: Value of ``fl:digestMethod`` for digests made by :func:`arrays_sha256`.
DIGEST_METHOD = "fedprov-arrays-v1"

_NUMPY_STYPE = "numpy.ndarray"


def array_sha256_update(hasher: hashlib._Hash, key: str, array: Array) -> None:
    """Feed one keyed ``Array`` into ``hasher`` as :func:`arrays_sha256` does.

    Parameters
    ----------
    hasher
        A ``hashlib.sha256()`` object.
    key
        The array's key in its ``ArrayRecord``.
    array
        The Flower ``Array``.
    """
    hasher.update(key.encode("utf-8"))
    hasher.update(b"\0")
    if array.stype != _NUMPY_STYPE:
        hasher.update(str(array.dtype).encode("utf-8"))
        hasher.update(b"\0")
        hasher.update(",".join(str(int(d)) for d in array.shape).encode("ascii"))
        hasher.update(b"\0")
        hasher.update(array.data)
        return

    values = np.asarray(array.numpy())
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    # np.require keeps a 0-d array 0-d; np.ascontiguousarray would make it
    # 1-d, so shapes () and (1,) would hash alike.
    little = np.require(little, requirements="C")
    hasher.update(little.dtype.name.encode("utf-8"))
    hasher.update(b"\0")
    hasher.update(",".join(str(int(d)) for d in little.shape).encode("ascii"))
    hasher.update(b"\0")
    hasher.update(little.reshape(-1).view(np.uint8).data)


def arrays_sha256(array_record: ArrayRecord) -> str:
    """Return the ``fedprov-arrays-v1`` SHA-256 of an ``ArrayRecord`` as hex.

    Parameters
    ----------
    array_record
        The model or update; a torch ``state_dict`` or numpy list must be
        wrapped in ``ArrayRecord`` first.

    Returns
    -------
    str
        64 lowercase hexadecimal characters.

    Examples
    --------
    >>> import numpy as np
    >>> from flwr.app import ArrayRecord
    >>> a = arrays_sha256(ArrayRecord([np.zeros(3, dtype=np.float32)]))
    >>> b = arrays_sha256(ArrayRecord([np.zeros(3, dtype=">f4")]))
    >>> a == b, len(a)
    (True, 64)
    """
    hasher = hashlib.sha256()
    for key in sorted(array_record.keys()):
        array_sha256_update(hasher, key, array_record[key])
    return hasher.hexdigest()
