"""Route factories the domains' APIs share.

No ``from __future__ import annotations`` here: FastAPI reads the body type from the endpoint's annotations, and
a closure's local class given as a string could not be resolved.
"""

from collections.abc import Callable

from civiclink.deps import CtxDep, CurrentActor, StateDep, respond


def record_action_route(body_model: type, act: Callable, read: Callable, *, name: str, doc: str):
    """``POST …/{number}/<action>``: ``act(ctx, number, body, actor)`` in the writer's batch (one transaction
    with its audit event and outbox message), then ``read(ctx, record, actor)`` as the response."""

    async def endpoint(number: str, body: body_model, ctx: CtxDep, actor: CurrentActor,  # type: ignore[valid-type]
                       state: StateDep):
        def write(wctx):
            record = act(wctx, number, body, actor)
            return lambda: respond(read(wctx, record, actor))

        return await state.batcher.run(ctx, write)

    endpoint.__name__ = name
    endpoint.__doc__ = doc
    return endpoint
