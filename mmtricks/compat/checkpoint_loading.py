"""Load MMEngine checkpoints with ``torch.load(weights_only=True)``.

Upstream bug: torch 2.6 made ``weights_only=True`` the default of
``torch.load``; mmengine 0.10.7 pickles its
``message_hub`` (``HistoryBuffer`` objects holding numpy arrays and scalars)
into every checkpoint, so ``Runner.resume``, ``load_from``, ``tools/test.py``
and mmdeploy's ``torch2onnx`` fail with "Weights only load failed"
(open-mmlab/mmengine#1655). The fix upstream projects reached for,
``weights_only=False``, lets a checkpoint run arbitrary code on load.

We keep ``weights_only=True`` and allow exactly what these checkpoints hold.
``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer,
'min')``; rather than allowing the builtin ``getattr``, a classic gadget for
reaching ``__globals__`` or ``os.system``, the pickle's ``builtins.getattr``
resolves to :func:`history_buffer_getattr`, which answers only those lookups.
"""
import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

_NUMPY_CORE = 'numpy._core' if hasattr(np, '_core') else 'numpy.core'


def history_buffer_getattr(obj, name: str):
    """The only ``getattr`` a checkpoint may call: a HistoryBuffer statistic.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    if obj is HistoryBuffer and isinstance(name, str) \
            and not name.startswith('_') \
            and callable(HistoryBuffer.__dict__.get(name)):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Checkpoint refused: it asks for getattr({obj!r}, {name!r}); only '
        'HistoryBuffer statistics methods may be looked up when loading.')


def _numpy_dtype_classes():
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25
    if dtypes is None:
        return []
    return [
        value for name, value in vars(dtypes).items()
        if name.endswith('DType') and isinstance(value, type)
    ]


def checkpoint_safe_globals():
    """The exact allow-list, as ``torch.serialization.add_safe_globals`` takes it."""
    multiarray = getattr(np, '_core', None) or np.core
    allowed = [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        (multiarray.multiarray._reconstruct,
         f'{_NUMPY_CORE}.multiarray._reconstruct'),
        (multiarray.multiarray.scalar, f'{_NUMPY_CORE}.multiarray.scalar'),
        (history_buffer_getattr, 'builtins.getattr'),
    ]
    # Checkpoints written under numpy 1 name the old module path.
    if _NUMPY_CORE != 'numpy.core':
        allowed += [
            (multiarray.multiarray._reconstruct,
             'numpy.core.multiarray._reconstruct'),
            (multiarray.multiarray.scalar, 'numpy.core.multiarray.scalar'),
        ]
    return allowed + _numpy_dtype_classes()


def apply() -> None:
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
