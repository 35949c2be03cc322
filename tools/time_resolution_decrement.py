"""Time one MobileNetV3-small training step at full and decremented resolution.

    OMP_NUM_THREADS=1 python tools/time_resolution_decrement.py --sizes 224 112 --batch 16

Prints the median step time (forward, backward, SGD step) per input size; the
speed-up of a RandomResolutionDecrement iteration is the ratio of the two.
"""
import argparse
import time

import torch
import torch.nn.functional as F
from mmengine.config import Config


def step_times(model, optimizer, size, batch, steps):
    images = torch.randn(batch, 3, size, size)
    labels = torch.randint(0, 10, (batch, ))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return sorted(times[2:])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--sizes', type=int, nargs='+', default=[224, 112])
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--steps', type=int, default=8)
    parser.add_argument('--config', default='configs/auto_mbv3.py')
    args = parser.parse_args()
    import mmtricks  # noqa: F401  (registers PretrainedIfAvailable)
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(args.config)
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for size in args.sizes:
        times = step_times(model, optimizer, size, args.batch, args.steps)
        print(f'{size} px, batch {args.batch}: median '
              f'{1000 * times[len(times) // 2]:.1f} ms per step')


if __name__ == '__main__':
    main()
