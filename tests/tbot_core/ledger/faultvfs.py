"""A Python APSW VFS that fails the N-th xWrite or xSync, optionally after a torn (half) write."""

from __future__ import annotations

import apsw


class FaultVFS(apsw.VFS):
    """Counts every xWrite/xSync on every file it opens; ``arm`` makes one of them fail."""

    def __init__(self, name: str = "ledger_fault") -> None:
        self.name = name
        self.counts = {"write": 0, "sync": 0}
        self.target: tuple[str, int, bool] | None = None
        self.fired = False
        super().__init__(name, "")

    def reset(self) -> None:
        self.counts = {"write": 0, "sync": 0}
        self.target = None
        self.fired = False

    def arm(self, op: str, n: int, *, torn: bool = False) -> None:
        self.reset()
        self.target = (op, n, torn)

    def xOpen(self, name, flags):
        return FaultFile(self, name, flags)

    def hit(self, op: str) -> tuple[bool, bool]:
        self.counts[op] += 1
        if self.target and not self.fired and self.target[0] == op and self.target[1] == self.counts[op]:
            self.fired = True
            return True, self.target[2]
        return False, False


class FaultFile(apsw.VFSFile):
    def __init__(self, vfs: FaultVFS, name, flags) -> None:
        self._fault = vfs
        super().__init__("", name, flags)

    def xWrite(self, data, offset):
        fail, torn = self._fault.hit("write")
        if fail:
            if torn:
                super().xWrite(bytes(data)[: max(1, len(data) // 2)], offset)
            raise apsw.IOError("injected write fault")
        return super().xWrite(data, offset)

    def xSync(self, flags):
        fail, _ = self._fault.hit("sync")
        if fail:
            raise apsw.IOError("injected sync fault")
        return super().xSync(flags)
