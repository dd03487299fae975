"""Torch code every torch model shares, so model plugins need not reach into one another:

- `device`: which device `auto`, `cpu`, `cuda` or `cuda:N` means here;
- `precision`: exact fp32 by default, bf16 only where the hardware computes it natively (`choose`,
  `autocast_for`);
- `loop`: the training loop (seeded epochs, iteration cap, time budget, progress reports, loss curves) and the
  state a training resumes from (`EpochLoop`, `TrainingState`);
- `distributed`: data-parallel training under torchrun (joining the process group, sharding, averaging);
- `torchdata`: face crops as a torch Dataset and DataLoader (`face_loader`, `normalise`).
"""
