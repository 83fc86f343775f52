"""Native bfloat16 on the CPU: the flag is read from /proc/cpuinfo, and
``rlsight train`` points a float32 CPU run of a measured encoder to
``train.autocast=bf16`` only there."""

from __future__ import annotations

from rlsight.hardware import bf16_hint, cpu_native_bf16
from tests.conftest import tiny_config

ZEN5 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
XEON = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: avx512f avx512_bf16 amx_bf16 amx_tile\n"


def test_native_bf16_flag_is_read_from_cpuinfo(tmp_path):
    for text, expected in ((ZEN5, "avx512_bf16"), (XEON, None), (SAPPHIRE, "amx_bf16"), ("", None)):
        f = tmp_path / "cpuinfo"
        f.write_text(text)
        assert cpu_native_bf16(f) == expected, text
    assert cpu_native_bf16(tmp_path / "missing") is None


def test_hint_only_for_float32_cpu_runs_of_measured_encoders_on_a_bf16_cpu(monkeypatch):
    for encoder, preset in (("impala", "procgen-paper"), ("nature", "cpu-30min")):
        cpu = dict(train__device="cpu", model__encoder=encoder)
        hint = bf16_hint(tiny_config(**cpu), flag="avx512_bf16")
        assert hint is not None and "avx512_bf16" in hint and "train.autocast=bf16" in hint and preset in hint
        assert bf16_hint(tiny_config(**cpu, train__autocast="bf16"), flag="avx512_bf16") is None
    # an encoder nobody measured in bf16 gets no advice
    monkeypatch.setattr("rlsight.hardware.BF16_MEASURED", {"impala": "x"})
    assert bf16_hint(tiny_config(train__device="cpu", model__encoder="nature"), flag="avx512_bf16") is None
