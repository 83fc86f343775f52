"""The allocator setting keeps large freed blocks in the heap (glibc only)."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import pytest

from rlsight import hardware as allocator

# The probe allocates as torch's CPU allocator does (c10::alloc_cpu: posix_memalign, 64-byte
# alignment) without importing torch, so each of its two processes starts in a fraction of a second.
PROBE = r"""
import ctypes, json
from rlsight.hardware import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
tuned = keep_freed_memory()
x = ctypes.c_void_p()
assert libc.posix_memalign(ctypes.byref(x), 64, 16 * 1024 * 1024) == 0  # 16 MiB, a chunk-64 IMPALA activation
mapped_while_held = libc.mallinfo2().hblkhd
libc.free(x)
print(json.dumps({"tuned": tuned, "mapped": mapped_while_held, "free_in_heap": libc.mallinfo2().fordblks}))
"""


def _probe(switch: str) -> dict:
    env = {**os.environ, allocator.ENV_SWITCH: switch}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(allocator._glibc() is None or not hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2"),
                    reason="needs glibc >= 2.33 (mallinfo2)")
def test_freed_activations_stay_in_the_heap_unless_switched_off():
    default, tuned = _probe("0"), _probe("1")
    assert not default["tuned"] and tuned["tuned"]
    # default glibc maps a 16 MiB block by itself and unmaps it when freed
    assert default["mapped"] >= 16 * 1024 * 1024
    # tuned: it comes from the heap and, once freed, stays there for the next pass
    assert tuned["mapped"] < 16 * 1024 * 1024
    assert tuned["free_in_heap"] >= 16 * 1024 * 1024
