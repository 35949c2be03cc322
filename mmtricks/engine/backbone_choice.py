"""``backbone_candidates``: the recipe chooses the backbone too.

A config (``configs/auto.py``) lists shipped recipes whose model, data
preprocessor, epoch cap and fallback LR are the candidates; everything else
(data, LR range test, epoch policy, hooks) is the config's own. Which one
trains:

- the one a checkpoint being resumed, tested or deployed was trained with
  (``meta['data_decisions']['backbone']``);
- under ``time_budget``, the one :mod:`.time_budget` plans best
  (:func:`~.backbone_rule.choose_backbone` over each candidate's plan);
- otherwise the same rule without plans: pretrained weights when here.

The choice is written into the config (``backbone_recipe``, and
``backbone_candidates=None``), so the work dir's dumped config builds the
chosen model with nothing left to decide.
"""
import copy
import functools
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ..models.pretrained_presence import pretrained_weights_present
from ..shipped_configs import config_path
from .backbone_rule import BackboneOption, choose_backbone
from .budget_plan import epochs_needed
from .data_decisions import RecipeConfigError

CANDIDATES_KEY = 'backbone_candidates'
#: Where the choice is written in the config (and read from by the
#: data decisions, which store it in checkpoints as ``backbone``).
CHOSEN_KEY = 'backbone_recipe'


@dataclass(frozen=True)
class Candidate:
    recipe: str               # e.g. 'auto_effnet_lite0.py'
    model: dict
    data_preprocessor: dict
    max_epochs: int           # the recipe's own epoch cap
    pretrained: bool          # its pretrained weights are on this machine
    #: The recipe's optimizer LR: what trains when the LR range test gives
    #: no answer (a from-scratch LR would wreck pretrained weights).
    fallback_lr: Optional[float] = None

    def option(self, needed_epochs: Optional[int] = None,
               **plan) -> BackboneOption:
        """As the rule sees it; ``needed_epochs`` defaults to its own
        cap's (budget_plan.epochs_needed)."""
        return BackboneOption(self.recipe, self.pretrained,
                              needed_epochs or epochs_needed(self.max_epochs),
                              **plan)


def candidate_recipes(cfg) -> List[str]:
    recipes = cfg.get(CANDIDATES_KEY) or []
    if isinstance(recipes, str) or not all(isinstance(r, str)
                                           for r in recipes):
        raise RecipeConfigError(
            f'{CANDIDATES_KEY} must be a list of shipped recipe names '
            f"(e.g. ['auto_mbv3.py', 'auto_effnet_lite0.py']) or None, got "
            f'{recipes!r}.')
    return list(recipes)


@functools.lru_cache(maxsize=None)
def _shipped_parts(recipe: str) -> Tuple[dict, dict, int, Optional[float]]:
    """A shipped recipe's model, data preprocessor, epoch cap and optimizer
    LR, read once per process (a run settles the backbone, plans the budget
    and decides the data, each asking; nothing mutates them:
    apply_candidate copies)."""
    from mmengine.config import Config
    try:
        path = config_path(recipe)
    except FileNotFoundError as error:
        raise RecipeConfigError(f'{CANDIDATES_KEY}: {error}') from None
    shipped = Config.fromfile(path)
    return (shipped['model'].to_dict(),
            shipped['data_preprocessor'].to_dict(),
            int(shipped['train_cfg']['max_epochs']), optimizer_lr(shipped))


def optimizer_lr(cfg) -> Optional[float]:
    """``optim_wrapper.optimizer.lr``, None where the config has none."""
    lr = ((cfg.get('optim_wrapper') or {}).get('optimizer') or {}).get('lr')
    return None if lr is None else float(lr)


def load_candidate(recipe: str) -> Candidate:
    model, data_preprocessor, max_epochs, lr = _shipped_parts(recipe)
    # Not cached: whether the weights are here can change (a download).
    return Candidate(recipe=recipe, model=model,
                     data_preprocessor=data_preprocessor,
                     max_epochs=max_epochs,
                     pretrained=pretrained_weights_present(model),
                     fallback_lr=lr)


def load_candidates(cfg) -> List[Candidate]:
    """The config's candidates, after checking that the config's model is
    still the first one's: a model the user changed would be replaced."""
    candidates = [load_candidate(r) for r in candidate_recipes(cfg)]
    if candidates:
        first = candidates[0]
        for key in ('model', 'data_preprocessor'):
            if _plain(cfg.get(key)) != getattr(first, key):
                raise RecipeConfigError(
                    f'{CANDIDATES_KEY} chooses the model, but this config '
                    f'changes `{key}` from {first.recipe}\'s: set '
                    f'`{CANDIDATES_KEY}=None` to train your model, or drop '
                    'the change.')
    return candidates


def _plain(value):
    return value.to_dict() if hasattr(value, 'to_dict') else value


def apply_candidate(cfg, candidate: Candidate,
                    candidates: Sequence[Candidate]) -> None:
    """Write ``candidate`` into ``cfg``: its model, data preprocessor,
    epoch cap and fallback LR (a cap or an LR the user set, unlike the first
    candidate's, is kept)."""
    train_cfg = cfg.get('train_cfg')
    if train_cfg is not None and \
            train_cfg.get('max_epochs') == candidates[0].max_epochs:
        train_cfg['max_epochs'] = candidate.max_epochs
    if candidate.fallback_lr is not None and \
            optimizer_lr(cfg) == candidates[0].fallback_lr:
        cfg['optim_wrapper']['optimizer']['lr'] = candidate.fallback_lr
    cfg['model'] = copy.deepcopy(candidate.model)
    cfg['data_preprocessor'] = copy.deepcopy(candidate.data_preprocessor)
    cfg[CANDIDATES_KEY] = None
    cfg[CHOSEN_KEY] = candidate.recipe


def settle_backbone(cfg, stored: Optional[dict],
                    prior: bool = True) -> Optional[str]:
    """Apply the checkpoint's backbone (``stored``: its data decisions), or
    with ``prior`` the rule's choice without a budget. Returns the reason
    line, or None when the config has no candidates (or ``prior`` is off
    and nothing is stored)."""
    candidates = load_candidates(cfg)
    if not candidates:
        return None
    trained = (stored or {}).get('backbone')
    if trained:
        match = [c for c in candidates if c.recipe == trained]
        if not match:
            raise RecipeConfigError(
                f'The checkpoint was trained with the backbone of {trained}, '
                f'which is not among {CANDIDATES_KEY} '
                f'{[c.recipe for c in candidates]}: add it, or use the '
                'checkpoint\'s work dir config.')
        apply_candidate(cfg, match[0], candidates)
        return f'backbone {trained}: the one the checkpoint was trained with.'
    if not prior:
        return None
    pick, reason = choose_backbone([c.option() for c in candidates])
    apply_candidate(cfg, candidates[pick], candidates)
    return reason
