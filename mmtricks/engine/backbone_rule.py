"""Which backbone to train: a pure rule over the candidates' plans.

The prior comes from the bundled-set benchmark that ships with the package
(docs/benchmarks/benchmark.md, 3 seeds, each recipe at its own epoch cap):
EfficientNet-Lite0 fine-tuned from its packaged ImageNet weights matched or
beat MobileNetV3-small from scratch on every set (test top-1: lfw_faces
96.1 vs 93.3, mnist 98.2 vs 98.2, digits 99.0 vs 99.2, within a seed's
noise; elpv_poly 85.2 vs 78.5 in the README's table), while costing 1.3 to
2x the time at the size each chose. So a candidate that starts from
pretrained weights is preferred whenever it gets the epochs its own recipe
fine-tunes for; otherwise a candidate that gets its epochs from scratch;
otherwise the one that gets the largest share of the epochs it needs.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from .budget_plan import BudgetPlan


@dataclass(frozen=True)
class BackboneOption:
    """One candidate recipe, as the planner measured it."""
    recipe: str              # the shipped recipe it comes from
    pretrained: bool         # starts from pretrained weights on this machine
    needed_epochs: int       # the epochs its own recipe trains for
    plan: Optional[BudgetPlan] = None   # None: no budget given
    refused: str = ''        # why no plan fits the budget, if none does


def _describe(option: BackboneOption) -> str:
    start = 'pretrained' if option.pretrained else 'from scratch'
    if option.plan is None:
        return f'{option.recipe} ({start}): {option.refused or "no plan"}'
    return (f'{option.recipe} ({start}): {option.plan.image_size} px, '
            f'{option.plan.max_epochs} epochs of the {option.needed_epochs} '
            'it needs')


def choose_backbone(options: Sequence[BackboneOption]
                    ) -> Tuple[int, str]:
    """The index of the option to train, and the reason, in one line.

    Without plans (no time budget): the first candidate whose pretrained
    weights are here, else the first. With plans: the first pretrained
    candidate that gets its needed epochs, else the first that does, else
    the one with the largest share of them.

    Raises:
        ValueError: no option, or (with a budget) none that fits; the
            message joins each candidate's refusal.
    """
    if not options:
        raise ValueError('No backbone candidate.')
    if all(o.plan is None and not o.refused for o in options):
        pick = next((i for i, o in enumerate(options) if o.pretrained), 0)
        why = ('its pretrained weights are here; fine-tuned, they matched '
               'or beat training from scratch on every bundled set '
               '(docs/benchmarks/benchmark.md)'
               if options[pick].pretrained else
               'no candidate has pretrained weights here; the first listed')
        return pick, f'backbone {options[pick].recipe}: {why}.'
    planned = [(i, o) for i, o in enumerate(options) if o.plan is not None]
    if not planned:
        raise ValueError(' '.join(o.refused for o in options))
    enough = [(i, o) for i, o in planned
              if o.plan.max_epochs >= o.needed_epochs]
    pretrained = [(i, o) for i, o in enough if o.pretrained]
    if pretrained:
        pick = pretrained[0][0]
        why = ('it starts from pretrained weights and gets the epochs its '
               'recipe fine-tunes for, which matched or beat training from '
               'scratch on every bundled set (docs/benchmarks/benchmark.md)')
    elif enough:
        pick = enough[0][0]
        why = 'the first candidate that gets the epochs it needs'
    else:
        pick = max(planned, key=lambda item: item[1].plan.max_epochs /
                   item[1].needed_epochs)[0]
        why = ('no candidate gets the epochs it needs; this one gets the '
               'largest share of them')
    others = '; '.join(_describe(o) for i, o in enumerate(options)
                       if i != pick)
    return pick, (f'backbone {_describe(options[pick])}; {why}. Also '
                  f'measured: {others}.')
