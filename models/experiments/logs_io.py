"""Reading a plain bandit log CSV into a :class:`~models.experiments.ope.BanditLog` (adapter).

Header: ``reward,logging_propensity,target_probability`` and optionally
``reward_model_logged,reward_model_target`` (both or neither); other columns are ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from models.experiments.ope import BanditLog, PolicyLogError

REQUIRED = ("reward", "logging_propensity", "target_probability")
MODEL = ("reward_model_logged", "reward_model_target")


def read_bandit_log(path: str | Path) -> BanditLog:
    path = Path(path)
    try:
        table = pacsv.read_csv(path)
    except FileNotFoundError:
        raise PolicyLogError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise PolicyLogError(f"{path}: not a readable CSV: {str(exc).splitlines()[0]}") from None
    if table.num_rows == 0:
        raise PolicyLogError(f"{path}: the log has no rows")
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise PolicyLogError(
            f"{path}: missing column(s) {', '.join(missing)} (header: {','.join(table.column_names)})"
        )
    present = [c for c in MODEL if c in table.column_names]
    if len(present) == 1:
        raise PolicyLogError(f"{path}: {present[0]} needs {(set(MODEL) - set(present)).pop()} too")
    cols = [*REQUIRED, *present]
    arrays = {}
    for name in cols:
        col = table.column(name)
        if col.null_count:
            row = int(np.flatnonzero(np.asarray(col.is_null()))[0])
            raise PolicyLogError(f"{path}: {name} is empty or NaN in data row {row + 1}")
        if not pa.types.is_integer(col.type) and not pa.types.is_floating(col.type):
            raise PolicyLogError(f"{path}: {name} must be numeric, found {col.type}")
        arrays[name] = np.asarray(col.to_numpy(), dtype=np.float64)
    return BanditLog(
        arrays["reward"],
        arrays["logging_propensity"],
        arrays["target_probability"],
        arrays.get("reward_model_logged"),
        arrays.get("reward_model_target"),
    )
