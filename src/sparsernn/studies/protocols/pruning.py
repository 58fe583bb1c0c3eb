"""What the pruning protocols share: the ``criterion`` parameter and their one call into :mod:`sparsernn.prune`."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import AfterValidator, ValidationInfo, field_validator

from sparsernn import prune
from sparsernn.errors import ConfigError
from sparsernn.studies.config import Section


def known_criterion(name: str) -> str:
    """``name`` if it names a pruning criterion of :mod:`sparsernn.prune` (ValueError listing them otherwise)."""
    try:
        prune.check_criterion(name)
    except ConfigError as error:
        raise ValueError(str(error)) from None  # pydantic reports it under the field's name
    return name


#: A pruning criterion named in a recipe's ``params.criterion``: a name of
#: :data:`sparsernn.prune.CRITERIA` (``magnitude``, ``random``) or :data:`sparsernn.prune.MASK_CRITERIA`
#: (``degree_floor``, ``ramanujan_guard``); an unknown name fails recipe validation, listing them all.
Criterion = Annotated[str, AfterValidator(known_criterion)]


class PruningParams(Section):
    """Base of the parameters of a protocol that prunes by ``criterion`` with a ``scope`` (declared in
    that order): a criterion that splits one global budget (:data:`sparsernn.prune.GLOBAL_ONLY_CRITERIA`)
    with ``scope: layer`` is refused when the recipe is checked, not in every run after its training."""

    @field_validator("criterion", check_fields=False)
    @classmethod
    def _scope_fits_criterion(cls, criterion: str, info: ValidationInfo) -> str:
        scope = info.data.get("scope")
        if criterion in prune.GLOBAL_ONLY_CRITERIA and scope != "global":
            raise ValueError(f"{criterion} splits one global budget; expected scope: global, got {scope!r}")
        return criterion


def prune_masks(
    model: torch.nn.Module, sparsity: float, *, criterion: str, weights: str, scope: str, seed: int
) -> dict[str, torch.Tensor]:
    """Masks pruning ``sparsity`` of ``model``'s selected weights by ``criterion`` (``seed``: random ones).

    The protocols' one call into :func:`sparsernn.prune.prune`; ``criterion="magnitude"`` is
    :func:`sparsernn.prune.magnitude` exactly.
    """
    return prune.prune(model, sparsity, criterion=criterion, weights=weights, scope=scope, seed=seed)
