"""jupyter_client's view of a kernel a zygote forked (:mod:`course_lib.execute.pool`).

A module of its own so that starting a sandbox (a batch's pool, the warm service) does not import
jupyter_client: only running a notebook does.
"""

from __future__ import annotations

from jupyter_client.provisioning import KernelProvisionerBase

from .pool import Zygote, ZygoteError


class ForkedKernel(KernelProvisionerBase):
    """jupyter_client's view of a kernel the zygote forked: liveness and killing go through the zygote."""

    def __init__(self, *, zygote: Zygote, pid: int, **kwargs):
        super().__init__(**kwargs)
        self.zygote, self.pid, self.exit_code = zygote, pid, None

    @property
    def has_process(self) -> bool:
        return self.exit_code is None

    async def poll(self):
        if self.exit_code is None:
            try:
                self.exit_code = self.zygote.request(op="poll")["exit"]
            except ZygoteError:
                self.exit_code = -9
        return self.exit_code

    async def wait(self):
        import asyncio

        while await self.poll() is None:
            await asyncio.sleep(0.05)
        return self.exit_code

    async def send_signal(self, signum: int) -> None:
        if signum == 9:
            await self.kill()

    async def kill(self, restart: bool = False) -> None:
        if self.exit_code is None:
            try:
                self.exit_code = self.zygote.request(op="kill")["exit"] or -9
            except ZygoteError:
                self.exit_code = -9

    async def terminate(self, restart: bool = False) -> None:
        await self.kill(restart)

    async def launch_kernel(self, cmd, **kwargs):
        raise RuntimeError("a forked kernel is started by its zygote")

    async def cleanup(self, restart: bool = False) -> None:
        pass
