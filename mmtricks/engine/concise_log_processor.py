"""One console line per validation and test, whatever the number of classes.

MMEngine's ``LogProcessor`` prints every value an evaluation returns in the
``Epoch(val)`` line. With the recipe's per-class metrics that is three
numbers a class in one line, then the confusion matrix as a tensor, one
console line a class, at every validation. :class:`ConciseLogProcessor`
shortens only the line that is printed: top-1, the monitored metric and the
class with the lowest recall, e.g. (elpv_poly, monitoring macro-F1)::

    Epoch(val) [2][5/5]  accuracy/top1: 70.9677  macro/f1-score: 41.5094
    weakest class: defective (class/recall 0.0000)

(one line, wrapped here).

What MMEngine records is unchanged: the tag it returns still holds every
value, so ``vis_data/scalars.json`` (and any other visualizer backend) gets
every scalar of each validation, per-class ones included, and the JSON that
``mim test`` writes in the log dir gets every value, confusion matrix
included. ``PerClassReportHook`` draws the confusion matrices in the work
dir.
"""
import numbers
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmengine.runner import LogProcessor
from mmpretrain.registry import LOG_PROCESSORS

from .config_keys import AUTO  # monitor='auto': filled by apply_data_decisions

TOP1 = 'accuracy/top1'
#: The per-class recall scalars PerClassReportHook names
#: (``class/recall/<class>``) of the shipped configs'
#: ``SingleLabelMetric(average=None, prefix='class')``.
CLASS_RECALL = 'class/recall'


def epoch_header(log_str: str) -> str:
    """``Epoch(val) [2][6/6]`` (or ``Epoch(test) [6/6]``, ``Iter(val)
    [...]``) of a line MMEngine's ``LogProcessor.get_log_after_epoch``
    formats: the text before its first double space, which separates the
    header from the items."""
    return log_str.split('  ', 1)[0].rstrip()


def weakest_class(values: Dict[str, object],
                  prefix: str) -> Optional[Tuple[str, float]]:
    """The class with the lowest ``<prefix>/<class>`` scalar in ``values``
    (the first one on a tie), and that value; None without any."""
    start = prefix.rstrip('/') + '/'
    scores = [(key[len(start):], float(value))
              for key, value in values.items()
              if key.startswith(start) and isinstance(value, numbers.Real)]
    if not scores:
        return None
    return min(scores, key=lambda item: item[1])


def concise_line(header: str, values: Dict[str, object],
                 shown: Iterable[str],
                 weakest_of: Optional[str] = CLASS_RECALL,
                 num_digits: int = 4) -> str:
    """One line: ``header``, each scalar of ``shown`` that ``values`` holds
    (in that order, each once) and the class with the lowest
    ``weakest_of/<class>`` value.

    Args:
        header (str): e.g. ``Epoch(val) [2][6/6]``.
        values (dict): The evaluation's values, keyed without the
            ``val/`` or ``test/`` prefix.
        shown (iterable of str): The keys to print.
        weakest_of (str, optional): Prefix of the per-class scalars whose
            lowest is named; None names none.
        num_digits (int): Digits after the point.
    """
    items: List[str] = []
    seen = set()
    for key in shown:
        value = values.get(key)
        if key in seen or not isinstance(value, numbers.Real):
            continue
        seen.add(key)
        items.append(f'{key}: {value:.{num_digits}f}')
    weakest = weakest_class(values, weakest_of) if weakest_of else None
    if weakest is not None:
        name, value = weakest
        items.append(f'weakest class: {name} '
                     f'({weakest_of.rstrip("/")} {value:.{num_digits}f})')
    return '  '.join([header] + items)


@LOG_PROCESSORS.register_module()
class ConciseLogProcessor(LogProcessor):
    """MMEngine's ``LogProcessor``, with one short console line per
    validation and test (the training-iteration lines are MMEngine's).

    The returned tag (what ``LoggerHook`` gives the visualizer and, after
    a test, dumps as JSON) is MMEngine's, every value included; only the
    printed line keeps ``shown`` keys, the monitor and the weakest class.

    Args:
        monitor (str, optional): The metric the recipe follows, printed
            after ``shown``; ``'auto'`` is filled by ``DataAwareRunner``
            with the one it chose (``accuracy/top1`` or ``macro/f1-score``),
            and a plain Runner leaves it unprinted. Defaults to ``'auto'``.
        shown (sequence of str): Keys always printed. Defaults to
            ``('accuracy/top1',)``.
        weakest_of (str, optional): Prefix of the per-class scalars whose
            lowest is printed with its class (``class/recall`` names the
            class recalled worst); None prints none.
        **kwargs: MMEngine's ``LogProcessor`` arguments (``window_size``,
            ``by_epoch``, ``custom_cfg``, ``num_digits``...).
    """

    def __init__(self, monitor: Optional[str] = AUTO,
                 shown: Sequence[str] = (TOP1, ),
                 weakest_of: Optional[str] = CLASS_RECALL, **kwargs):
        super().__init__(**kwargs)
        if isinstance(shown, str):
            shown = (shown, )
        self.monitor = monitor
        self.shown = tuple(shown)
        self.weakest_of = weakest_of

    @property
    def printed_keys(self) -> Tuple[str, ...]:
        """The keys the line prints, in order (the monitor once known)."""
        if self.monitor in (None, AUTO):
            return self.shown
        return self.shown + (self.monitor, )

    def get_log_after_epoch(self, runner, batch_idx: int, mode: str,
                            with_non_scalar: bool = False
                            ) -> Tuple[dict, str]:
        """MMEngine's tag, and the one short line for it."""
        tag, log_str = super().get_log_after_epoch(
            runner, batch_idx, mode, with_non_scalar=with_non_scalar)
        prefix = f'{mode}/'
        values = {key[len(prefix):] if key.startswith(prefix) else key: value
                  for key, value in tag.items()}
        return tag, concise_line(epoch_header(log_str), values,
                                 self.printed_keys, self.weakest_of,
                                 self.num_digits)
