import pytest

from mmtricks.optim.scheduler.resizing_stages import (check_stages,
                                                      stage_index,
                                                      switch_epochs)


def test_stage_epochs_follow_fractions_of_max_epochs():
    stages = check_stages([dict(until=0.25, scale=0.5),
                           dict(until=0.5, scale=0.75)])
    ends = switch_epochs(stages, 8)
    assert ends == [2, 4]
    assert [stage_index(e, ends) for e in range(8)] == [0, 0, 1, 1, 2, 2, 2,
                                                        2]
    with pytest.raises(ValueError, match='at least one epoch'):
        switch_epochs(stages, 2)
