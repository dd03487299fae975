"""PIPNet's decoding: the argmax cell plus its offsets, merged with the votes of the landmark's mean-face
neighbours (lib/functions.py: get_meanface, forward_pip; lib/test.py: the merge).

Each landmark i predicts, from its best cell, its own offset and the offsets of its num_nb nearest neighbours
on the mean face. The final position of landmark i is the mean of its own prediction and every prediction made
for it by a landmark that counts it among its neighbours. To make that a fixed-size tensor operation, the
original repeats each landmark's list of voters (eleven times, then truncates to the longest list), so a
landmark with fewer voters counts some of them twice; that weighting is part of its numbers and kept here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SOURCE = "lib/functions.py:31-75 (get_meanface), 157-196 (forward_pip); lib/test.py:140-147 (the merge)"


@dataclass(frozen=True)
class Neighbours:
    """The neighbour tables get_meanface builds from a mean face: `indices` (L, num_nb), each landmark's
    nearest others; `voters` and `slots` (L, max_len), which landmark (and which of its neighbour slots)
    votes for each landmark, repeated as the original repeats them."""

    indices: np.ndarray
    voters: np.ndarray
    slots: np.ndarray

    @property
    def num_nb(self) -> int:
        return self.indices.shape[1]


def neighbours(mean_face: np.ndarray, num_nb: int) -> Neighbours:
    """get_meanface's tables for an (L, 2) mean face."""
    mean_face = np.asarray(mean_face, dtype=np.float64).reshape(-1, 2)
    count = len(mean_face)
    if not 0 < num_nb < count:
        raise ValueError(f"num_nb {num_nb} must be at least 1 and below the mean face's {count} points")
    indices = []
    for point in mean_face:
        distances = np.sum(np.power(point - mean_face, 2), axis=1)
        indices.append(np.argsort(distances)[1:1 + num_nb])  # [0] is the point itself
    votes: list[tuple[list[int], list[int]]] = [([], []) for _ in range(count)]
    for i in range(count):
        for j in range(num_nb):
            votes[indices[i][j]][0].append(i)
            votes[indices[i][j]][1].append(j)
    max_len = max(len(v[0]) for v in votes)
    voters, slots = [], []
    for i, (who, slot) in enumerate(votes):
        who, slot = (who + who * 10)[:max_len], (slot + slot * 10)[:max_len]
        if len(who) < max_len:  # the original's view() would fail here
            raise ValueError(f"mean-face point {i} is a neighbour of {len(votes[i][0])} points, too few to fill "
                             f"the {max_len} votes PIPNet's merge takes per point")
        voters.append(who)
        slots.append(slot)
    return Neighbours(np.array(indices), np.array(voters), np.array(slots))


def decode(outputs: tuple[torch.Tensor, ...], input_size: int, net_stride: int, table: Neighbours) -> torch.Tensor:
    """(B, L, 2) landmark positions as fractions of the input crop, from the network's five maps, as
    forward_pip and the merge compute them (float32)."""
    cls, off_x, off_y, nb_x, nb_y = (o.float() for o in outputs)
    batch, lms, height, width = cls.shape
    num_nb = table.num_nb
    cells = torch.argmax(cls.reshape(batch, lms, -1), dim=2)  # (B, L): the first maximum, as torch.argmax
    own_x = torch.gather(off_x.reshape(batch, lms, -1), 2, cells[..., None]).squeeze(2)
    own_y = torch.gather(off_y.reshape(batch, lms, -1), 2, cells[..., None]).squeeze(2)
    nb_cells = cells[:, :, None, None].expand(batch, lms, num_nb, 1)
    votes_x = torch.gather(nb_x.reshape(batch, lms, num_nb, -1), 3, nb_cells).squeeze(3)  # channel i*num_nb + j
    votes_y = torch.gather(nb_y.reshape(batch, lms, num_nb, -1), 3, nb_cells).squeeze(3)
    col, row = (cells % width).float(), torch.div(cells, width, rounding_mode="floor").float()
    scale = 1.0 * input_size / net_stride
    x, y = (col + own_x) / scale, (row + own_y) / scale
    votes_x, votes_y = (col[..., None] + votes_x) / scale, (row[..., None] + votes_y) / scale
    voters, slots = torch.as_tensor(table.voters.reshape(-1)), torch.as_tensor(table.slots.reshape(-1))
    for_x = votes_x[:, voters, slots].reshape(batch, lms, -1)
    for_y = votes_y[:, voters, slots].reshape(batch, lms, -1)
    merged_x = torch.mean(torch.cat((x[..., None], for_x), dim=2), dim=2)
    merged_y = torch.mean(torch.cat((y[..., None], for_y), dim=2), dim=2)
    return torch.stack((merged_x, merged_y), dim=2)
