"""Photo storage without the app: the local backend, the factory, and how the difference
hash is kept in the database (signed column, indexed bands)."""
from __future__ import annotations

import os
import random
from itertools import combinations
from math import comb
from pathlib import Path

import pytest

from app.domain.verification import hamming
from app.imaging import band_probes, dhash_bands, dhash_column
from app.storage import PhotoStorage, storage_from_config
from app.storage.local import LocalStorage


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "photos")


# --- The local backend -------------------------------------------------------------------


def test_put_read_exists_delete(storage, tmp_path):
    storage.put("ab/abcdef-original.jpg", b"\xff\xd8\xffdata")
    assert storage.exists("ab/abcdef-original.jpg")
    assert storage.read("ab/abcdef-original.jpg") == b"\xff\xd8\xffdata"
    assert files_under(tmp_path) == [tmp_path / "photos" / "ab" / "abcdef-original.jpg"]
    storage.delete("ab/abcdef-original.jpg")
    assert not storage.exists("ab/abcdef-original.jpg")
    assert files_under(tmp_path) == []


def test_deleting_a_missing_file_is_not_an_error(storage):
    storage.delete("ab/never-written.jpg")


def test_reading_a_missing_file_is_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.read("ab/never-written.jpg")


@pytest.mark.parametrize("key", [
    "../outside.jpg", "ab/../../outside.jpg", "/etc/passwd", "", ".", "ab//c.jpg",
    "ab/./c.jpg", "ab\\..\\c.jpg",
])
def test_keys_cannot_leave_the_root(storage, key):
    with pytest.raises(ValueError):
        storage.put(key, b"x")
    with pytest.raises(ValueError):
        storage.read(key)


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(storage, tmp_path, monkeypatch):
    def no_rename(src, dst):
        raise OSError("No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        storage.put("ab/abcdef-original.jpg", b"data" * 1000)
    assert files_under(tmp_path) == []


def test_a_write_is_whole_or_absent(storage, tmp_path):
    storage.put("cd/one.jpg", b"first")
    storage.put("cd/one.jpg", b"second")  # replaced in one step, no temporary left
    assert storage.read("cd/one.jpg") == b"second"
    assert [p.name for p in files_under(tmp_path)] == ["one.jpg"]


# --- Chosen by configuration -------------------------------------------------------------


def test_the_factory_builds_the_configured_backend(tmp_path):
    backend = storage_from_config({"PHOTO_STORAGE": "local", "PHOTO_DIR": str(tmp_path / "p")})
    assert isinstance(backend, LocalStorage) and isinstance(backend, PhotoStorage)
    assert backend.root == (tmp_path / "p").resolve()


def test_an_unknown_backend_is_refused(tmp_path):
    with pytest.raises(ValueError, match="PHOTO_STORAGE"):
        storage_from_config({"PHOTO_STORAGE": "floppy", "PHOTO_DIR": str(tmp_path)})


# --- The hash in the database ------------------------------------------------------------


@pytest.mark.parametrize("unsigned, signed", [
    (0, 0), (1, 1), (2**63 - 1, 2**63 - 1), (2**63, -(2**63)), (2**64 - 1, -1),
    (0xF0F0_F0F0_F0F0_F0F0, 0xF0F0_F0F0_F0F0_F0F0 - 2**64),
])
def test_dhash_is_twos_complement_in_the_column(unsigned, signed):
    assert dhash_column(unsigned, to_db=True) == signed
    assert -(2**63) <= signed < 2**63  # fits a BIGINT
    assert dhash_column(signed, to_db=False) == unsigned


def test_bands_are_16_bits_most_significant_first():
    assert dhash_bands(0x0123_4567_89AB_CDEF) == [0x0123, 0x4567, 0x89AB, 0xCDEF]
    assert dhash_bands(2**64 - 1) == [0xFFFF] * 4
    assert dhash_bands(0) == [0] * 4


@pytest.mark.parametrize("distance, radius",
                         [(0, 0), (3, 0), (4, 1), (6, 1), (7, 1), (8, 2), (11, 2)])
def test_probes_cover_every_band_value_within_distance_over_four(distance, radius):
    probes = band_probes(0xBEEF, distance)
    assert len(probes) == len(set(probes)) == sum(comb(16, k) for k in range(radius + 1))
    assert all(hamming(p, 0xBEEF) <= radius for p in probes)
    assert probes[0] == 0xBEEF


def _found_by_bands(a: int, b: int, max_distance: int) -> bool:
    return any(other in band_probes(band, max_distance)
               for band, other in zip(dhash_bands(a), dhash_bands(b)))


@pytest.mark.parametrize("max_distance", [4, 6, 7, 9])
def test_every_hash_within_the_distance_shares_a_probed_band(max_distance):
    """The pigeonhole argument, checked: no near duplicate escapes the band lookup."""
    rng = random.Random(max_distance)
    for _ in range(300):
        a = rng.getrandbits(64)
        for distance in range(max_distance + 1):
            b = a
            for bit in rng.sample(range(64), distance):
                b ^= 1 << bit
            assert _found_by_bands(a, b, max_distance)


def test_the_worst_spread_of_six_bits_is_still_found():
    # Six bits over four bands leave one band with at most one flipped bit, however spread.
    a = 0x9A3C_5F01_E7D2_4B86
    for counts in {(2, 2, 1, 1), (2, 1, 2, 1), (1, 1, 2, 2), (3, 3, 0, 0), (6, 0, 0, 0)}:
        b = a
        for band, count in enumerate(counts):
            for bit in range(count):
                b ^= 1 << (63 - 16 * band - bit)
        assert hamming(a, b) == 6 and _found_by_bands(a, b, 6)


def test_a_random_photo_rarely_reaches_a_probe():
    """Selectivity: about 68 / 65536 of unrelated photos are candidates at distance 6."""
    rng = random.Random(7)
    target = rng.getrandbits(64)
    hits = sum(_found_by_bands(target, rng.getrandbits(64), 6) for _ in range(20000))
    assert hits < 60  # expectation ~21 of 20000


def test_pairs_of_flips_are_each_listed_once():
    probes = set(band_probes(0, 8))
    assert {1 << i | 1 << j for i, j in combinations(range(16), 2)} <= probes
