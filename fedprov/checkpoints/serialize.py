"""Encode an ``ArrayRecord`` as safetensors bytes, and back, without pickle.

The safetensors header carries the record's key order (safetensors itself
stores tensors sorted for alignment) and the ``fedprov-arrays-v1`` digest, so
:func:`decode_arrays` rebuilds the record exactly and can verify it.
"""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
from flwr.app import Array, ArrayRecord
from safetensors import SafetensorError
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_save

from fedprov.capture.digest import DIGEST_METHOD, arrays_sha256
from fedprov.errors import CheckpointError

__all__ = ["FORMAT", "decode_arrays", "encode_arrays"]

#: Value of the ``format`` field in the safetensors header.
FORMAT = "fedprov-checkpoint-v1"


def encode_arrays(arrays: ArrayRecord, metadata: dict[str, str] | None = None) -> bytes:
    """Return ``arrays`` as safetensors bytes.

    Parameters
    ----------
    arrays : ArrayRecord
        Arrays of ``stype`` ``numpy.ndarray`` (what Flower builds from numpy
        arrays and torch state dicts).
    metadata : dict of str to str, optional
        Extra header fields, such as the run key and round.

    Raises
    ------
    CheckpointError
        If an array is not a numpy array.
    """
    tensors: dict[str, np.ndarray] = {}
    for key, array in arrays.items():
        if array.stype != "numpy.ndarray":
            raise CheckpointError(
                f"array {key!r} has stype {array.stype!r}; checkpoints hold numpy "
                "arrays only (build the ArrayRecord from numpy arrays or a state dict)"
            )
        # np.require keeps 0-d arrays 0-d (np.ascontiguousarray makes them 1-d);
        # BatchNorm's num_batches_tracked is one.
        tensors[key] = np.require(array.numpy(), requirements="C")
    header = dict(metadata or {})
    header.update(
        {
            "format": FORMAT,
            "keys": json.dumps(list(arrays.keys())),
            "sha256": arrays_sha256(arrays),
            "digest_method": DIGEST_METHOD,
        }
    )
    return bytes(safetensors_save(tensors, metadata=header))


def _header(blob: bytes) -> dict[str, str]:
    # A safetensors file starts with the header length (u64, little-endian)
    # and the JSON header, whose "__metadata__" contains the string fields.
    if len(blob) < 8:
        raise CheckpointError(f"checkpoint of {len(blob)} bytes is truncated")
    length = int.from_bytes(blob[:8], "little")
    try:
        header = json.loads(blob[8 : 8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint header is not valid JSON ({err})") from err
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return dict(metadata) if isinstance(metadata, dict) else {}


def decode_arrays(blob: bytes, *, expected_sha256: str | None = None) -> ArrayRecord:
    """Rebuild the ``ArrayRecord`` that :func:`encode_arrays` wrote.

    Parameters
    ----------
    blob : bytes
        The safetensors bytes.
    expected_sha256 : str, optional
        Digest the arrays must have, e.g. from the checkpoint's metadata
        document; the digest stored in the header is always checked.

    Raises
    ------
    CheckpointError
        If the bytes are not a fedprov checkpoint, or a digest does not match.
    """
    header = _header(blob)
    if header.get("format") != FORMAT:
        raise CheckpointError(
            f"checkpoint format {header.get('format')!r} is not {FORMAT!r}; "
            "it was not written by fedprov"
        )
    try:
        tensors = safetensors_load(blob)
        keys = json.loads(header["keys"])
    except (SafetensorError, KeyError, json.JSONDecodeError) as err:
        raise CheckpointError(f"checkpoint is truncated or corrupt ({err})") from err
    if sorted(keys) != sorted(tensors):
        raise CheckpointError(
            "checkpoint header lists other keys than the stored tensors; it is corrupt"
        )
    arrays = ArrayRecord(OrderedDict((key, Array(tensors[key])) for key in keys))
    digest = arrays_sha256(arrays)
    for source, expected_digest in (
        ("header", header.get("sha256")),
        ("caller", expected_sha256),
    ):
        if expected_digest is not None and expected_digest != digest:
            raise CheckpointError(
                f"checkpoint arrays hash to {digest}, but the {source} expects "
                f"{expected_digest}; the checkpoint is corrupt or was replaced"
            )
    return arrays
