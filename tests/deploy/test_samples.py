"""Which of the choice split's images tune and which judge, and picking
images out of batches."""
import numpy as np
import torch

from mmtricks.deploy.samples import select, tuning_and_judging


def test_even_positions_tune_and_odd_ones_judge():
    tuning, judging = tuning_and_judging(7)
    assert list(tuning) == [0, 2, 4, 6] and list(judging) == [1, 3, 5]
    # Every image has exactly one role.
    assert sorted(np.concatenate([tuning, judging])) == list(range(7))


def test_select_picks_images_across_batches_in_order():
    inputs = torch.arange(10, dtype=torch.float32).reshape(10, 1, 1, 1)
    labels = torch.arange(10) % 3
    batches = [(inputs[:4], labels[:4]), (inputs[4:8], labels[4:8]),
               (inputs[8:], labels[8:])]
    chosen = select(batches, [1, 3, 4, 9], batch_size=3)
    assert [len(y) for _, y in chosen] == [3, 1]
    picked = torch.cat([x for x, _ in chosen]).flatten().tolist()
    assert picked == [1.0, 3.0, 4.0, 9.0]
    assert torch.cat([y for _, y in chosen]).tolist() == [1, 0, 1, 0]
    assert select(batches, []) == []
