"""``proxy.rotate``: give a phone attached to this worker a new public IP."""

from __future__ import annotations

from shared.commands import RotateProxy
from worker.errors import CommandRefused
from worker.handlers.base import HandlerContext, Outcome

TIMEOUT = 360.0  # the ADB controller bounds a rotation itself (rotation_deadline, 300 s by default)


async def handle(ctx: HandlerContext, command: RotateProxy) -> Outcome:
    """Rotate through the ADB controller and publish ``proxy.rotated`` or
    ``proxy.rotation_failed``. A rotation already running for the phone is joined,
    not started twice. Without a controller (``WAGATE_ADB_ENABLED`` off) the
    command is refused with ``unsupported``."""
    if ctx.adb is None:
        raise CommandRefused(
            "unsupported",
            "this worker has no ADB controller (set WAGATE_ADB_ENABLED=true where phones are attached)",
        )
    result = await ctx.adb.rotate(command.device_serial)
    await ctx.outbox.publish(result.to_event(command.proxy_id))
    return Outcome(ok=result.ok, code=result.code, reason=result.reason, data=result.as_dict())
