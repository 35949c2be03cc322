"""The report's curves: AutoEpochs' marks from the log, numbers per epoch."""
from mmtricks.engine.report_curves import per_epoch, policy_marks


def test_curves_read_the_policy_marks_and_average_each_epoch():
    log = ['... AutoEpochs: at epoch 7, no plateau yet at 75% of the budget;'
           ' annealing the LR to 0.005 x initial over the next 3 steps.',
           '... AutoEpochs: stopping at epoch 10 of 40: ...']
    assert policy_marks(log) == (7, 10)
    assert policy_marks(['nothing']) == (None, None)
    scalars = [dict(loss=1.0, lr=0.1, epoch=1, iter=5),
               dict(loss=3.0, lr=0.2, epoch=1, iter=10),
               {'accuracy/top1': 50.0, 'step': 1},
               dict(loss=0.5, lr=0.3, epoch=2, iter=15)]
    assert per_epoch(scalars) == {1: dict(loss=2.0, lr=0.2),
                                  2: dict(loss=0.5, lr=0.3)}
