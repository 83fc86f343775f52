"""Encoders, the registry and the original project's checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlsight.config import Config, ModelConfig, validate
from rlsight.errors import RlsightError
from rlsight.models import build_model, register_encoder
from rlsight.models.original_import import detect_model_config, read_foreign_checkpoint
from rlsight.models.registry import ENCODERS
from tests.conftest import ORIGINAL_CHECKPOINTS, original_checkpoint


def test_encoders_give_logits_and_values():
    for enc in ("nature", "impala"):
        m = build_model(ModelConfig(encoder=enc, n_features=32, impala_channels=[8, 8]))
        logits, v = m(torch.zeros(5, 64, 64, 3, dtype=torch.uint8))
        assert logits.shape == (5, 15) and v.shape == (5,)


@pytest.mark.parametrize("encoder", ["nature", "impala"])
def test_orthogonal_init_is_baselines_scheme(encoder):
    """model.init = orthogonal: orthogonal weights (gain sqrt(2); policy head 0.01, value head 1) and
    zero biases; the default init keeps PyTorch's (non-zero biases)."""
    torch.manual_seed(0)
    cfg = ModelConfig(encoder=encoder, n_features=64, impala_channels=[8, 8], init="orthogonal")
    m = build_model(cfg, num_actions=6, obs_shape=(4, 84, 84))
    for layer, gain in ((m.policy, 0.01), (m.value, 1.0), (m.encoder.last_conv() if encoder == "nature" else m.encoder.fc, 2 ** 0.5)):
        w = layer.weight.flatten(1)
        rows = min(w.shape)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        assert torch.allclose(gram, gain ** 2 * torch.eye(rows), atol=1e-4 * max(gain ** 2, 1e-2))
        assert torch.count_nonzero(layer.bias) == 0
    if encoder == "nature":  # the Atari network: its first policy is near-uniform
        frames = torch.randint(0, 256, (32, 84, 84, 4), dtype=torch.uint8)
        probs = torch.softmax(m(frames)[0], -1)
        assert (probs - 1 / 6).abs().max() < 0.01
    default = build_model(ModelConfig(encoder=encoder, n_features=64, impala_channels=[8, 8]), num_actions=6, obs_shape=(4, 84, 84))
    assert torch.count_nonzero(default.policy.bias) > 0


def test_a_new_encoder_is_one_small_class():
    class Tiny(nn.Module):
        def __init__(self, in_shape, cfg):
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 64 * 64, cfg.n_features), nn.ReLU())
            self.out_features = cfg.n_features

        def forward(self, x):
            return self.net(x)

    register_encoder("tiny", Tiny)
    try:
        cfg = Config()
        cfg.model.encoder = "tiny"
        validate(cfg)
        assert build_model(cfg.model)(torch.zeros(2, 64, 64, 3, dtype=torch.uint8))[0].shape == (2, 15)
    finally:
        ENCODERS.pop("tiny")


@pytest.mark.parametrize("name", list(ORIGINAL_CHECKPOINTS))
def test_original_checkpoints_load_exactly(name):
    sd = read_foreign_checkpoint(original_checkpoint(name))
    cfg = detect_model_config(sd)
    assert cfg.encoder == ("nature" if name in ("0_baseline", "2_500_lvls") else "impala")
    m = build_model(cfg)
    m.load_state_dict(sd)  # strict: every key and shape matches


def test_foreign_pickle_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    p = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, p)
    with pytest.raises(RlsightError, match="weights_only=True"):
        read_foreign_checkpoint(p)


def test_unknown_architecture_is_named():
    with pytest.raises(RlsightError, match="unknown architecture"):
        detect_model_config({"fc.weight": torch.zeros(2, 2)}, "x.pt")
