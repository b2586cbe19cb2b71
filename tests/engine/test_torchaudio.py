"""The install removes torchaudio's compiled extension (a CUDA build beside CPU torch):
prove that the pieces f5-tts and vocos use still work."""

import math

import torch


def test_mel_spectrogram_and_resample_work_without_the_compiled_extension():
    import torchaudio

    sr = 24_000
    t = torch.arange(sr) / sr
    wave = torch.sin(2 * math.pi * 440 * t).unsqueeze(0)
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=sr, n_fft=1024, hop_length=256,
                                               win_length=1024, n_mels=100, power=1,
                                               center=True, normalized=False, norm=None)(wave)
    assert mel.shape == (1, 100, sr // 256 + 1)
    assert torch.isfinite(mel).all() and mel.max() > 0
    resampled = torchaudio.transforms.Resample(sr, 16_000)(wave)
    assert resampled.shape[-1] == 16_000
    assert torchaudio.functional.resample(wave, sr, 16_000).shape[-1] == 16_000


def test_upstream_mel_module_runs():
    from f5_tts.model.modules import MelSpec

    mel = MelSpec(mel_spec_type="vocos")(torch.randn(1, 24_000) * 0.1)
    assert mel.shape[1] == 100 and torch.isfinite(mel).all()
