"""One ModelPromotion per (model, alias): who may move an alias is recorded on the model.

Two ModelPromotions moving the same alias would undo each other's promotions and roll back to
each other's versions. The first to evaluate a version claims the alias with a tag on the
registered model (`mlrollout.dev/alias-owner.<alias>` = `<namespace>/<name>`); another is
refused before anything rolls out, and says who owns the alias. A claim whose owner no longer
exists is taken over. (Read, then write: two first claims in the same second could both win.)
"""

from __future__ import annotations

from .ports import ClusterPort, RegistryPort

CLAIM_PREFIX = "mlrollout.dev/alias-owner."


async def claim(
    registry: RegistryPort, cluster: ClusterPort, model: str, alias: str, namespace: str, name: str
) -> str | None:
    """Claim ``alias`` of ``model`` for this ModelPromotion; the other owner's name if taken."""
    key, me = CLAIM_PREFIX + alias, f"{namespace}/{name}"
    owner = (await registry.model_tags(model)).get(key)
    if owner == me:
        return None
    if owner is not None and "/" in owner:
        owner_namespace, owner_name = owner.split("/", 1)
        if await cluster.promotion_exists(owner_namespace, owner_name):
            return owner
    await registry.set_model_tag(model, key, me)
    return None
