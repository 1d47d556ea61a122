"""Safetensors encoding of ArrayRecords, without pickle."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord

from fedprov.capture.digest import arrays_sha256
from fedprov.checkpoints.serialize import FORMAT, decode_arrays, encode_arrays
from fedprov.errors import CheckpointError


def _arrays() -> ArrayRecord:
    rng = np.random.default_rng(0)
    return ArrayRecord(
        OrderedDict(
            [
                ("z.weight", Array(rng.standard_normal((4, 3)).astype(np.float32))),
                ("a.bias", Array(rng.standard_normal(3).astype(np.float32))),
                ("steps", Array(np.array(12, dtype=np.int64))),
            ]
        )
    )


def test_encode_decode_keeps_keys_and_digest() -> None:
    arrays = _arrays()
    restored = decode_arrays(encode_arrays(arrays, {"run_key": "r"}))
    assert list(restored.keys()) == ["z.weight", "a.bias", "steps"]
    assert arrays_sha256(restored) == arrays_sha256(arrays)
    for key in arrays:
        assert np.array_equal(restored[key].numpy(), arrays[key].numpy())


def test_encode_is_safetensors_not_pickle() -> None:
    blob = encode_arrays(_arrays())
    assert not blob.startswith(b"\x80")  # pickle protocol 2+ opcode
    assert FORMAT.encode() in blob[:4096]


def test_decode_rejects_other_digest() -> None:
    blob = encode_arrays(_arrays())
    with pytest.raises(CheckpointError, match="but the caller expects 0000"):
        decode_arrays(blob, expected_sha256="0000")


def test_decode_rejects_changed_bytes() -> None:
    blob = bytearray(encode_arrays(_arrays()))
    blob[-1] ^= 0xFF
    with pytest.raises(CheckpointError, match="the header expects"):
        decode_arrays(bytes(blob))


def test_decode_rejects_truncated() -> None:
    blob = encode_arrays(_arrays())
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        decode_arrays(blob[: len(blob) - 10])
    with pytest.raises(CheckpointError, match="4 bytes is truncated"):
        decode_arrays(blob[:4])
