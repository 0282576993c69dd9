"""Running a campaign's instances somewhere: ``fn(*args, i)`` for ``i = 0 .. count - 1``,
serially in this process, in forked local processes, or as tasks on a Dask cluster. Every
backend gives the outcomes in index order, one when asked for (the rest go on meanwhile
and are cancelled on leaving), so a caller stops at the first it does not like.

An instance whose work never comes back is a :class:`Lost` in its place: a local worker
process that dies holding it is replaced and the instance given again, up to
:data:`ALLOWED_FAILURES` times; Dask's scheduler does the same for a lost worker (its
``distributed.scheduler.allowed-failures``) and reports ``KilledWorker`` beyond.
``distributed`` (the ``dask`` extra) is imported only by the Dask backend."""

from __future__ import annotations

import contextvars
import multiprocessing
import signal
import sys
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from multiprocessing.connection import wait

from .. import progress

ALLOWED_FAILURES = 3
"""Deaths of its worker an instance survives (it is given again), as Dask's default
``distributed.scheduler.allowed-failures``: the next one makes it :class:`Lost`."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a Dask scheduler given by its address."""


@dataclass(frozen=True)
class Lost:
    """The outcome of an instance whose work never came back, and ``why``."""

    why: str


def place(jobs: int, dask) -> None:
    """Refuse where instances cannot run: ``jobs`` (an integer >= 1) above 1 without the
    ``fork`` start method or together with ``dask``, and a ``dask`` that is neither None, a
    scheduler address (a non-empty str) nor a ``distributed.Client``."""
    if jobs > 1 and "fork" not in multiprocessing.get_all_start_methods():
        raise ValueError(f"jobs = {jobs} needs the 'fork' start method of multiprocessing, "
                         f"which this platform lacks; only jobs = 1 is allowed here")
    if dask is None:
        return
    if isinstance(dask, str):
        if not dask.strip():
            raise ValueError(f"dask must be a Dask scheduler address such as "
                             f"'tcp://host:8786' or a distributed.Client, got {dask!r}")
    elif not _is_client(dask):
        raise TypeError(f"dask must be a Dask scheduler address (a str) or a "
                        f"distributed.Client, got {type(dask).__name__} {dask!r}")
    if jobs > 1:
        raise ValueError(f"jobs = {jobs} and dask = {dask!r} were both given: the Dask "
                         f"cluster runs the instances on its workers; give jobs = 1 with "
                         f"dask")


def _is_client(value) -> bool:
    """Whether ``value`` is a ``distributed.Client`` (never imports ``distributed``: a
    Client exists only once it is imported)."""
    distributed = sys.modules.get("distributed")
    return distributed is not None and isinstance(value, distributed.Client)


def connect(address: str):
    """A ``distributed.Client`` of the scheduler at ``address``; close it after use
    (``with``). A malformed address is a ``ValueError``, an unknown host or no scheduler
    answering within :data:`CONNECT_TIMEOUT` seconds an ``OSError``."""
    try:
        import distributed
    except ModuleNotFoundError as error:
        if error.name != "distributed":
            raise
        raise ModuleNotFoundError("a Dask cluster needs distributed: pip install "
                                  "'symcnn[dask]'", name="distributed") from None
    try:  # before the Client, which is left unclosed (hanging at exit) by a bad address
        distributed.comm.resolve_address(address)
    except ValueError as error:
        raise ValueError(f"Dask scheduler address {address!r}: {error}") from None
    except OSError as error:
        raise OSError(f"Dask scheduler address {address!r}: {error}") from None
    return distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)


@contextmanager
def outcomes(fn: Callable, args: tuple, count: int, jobs: int = 1, dask=None,
             label: str = "campaign") -> Iterator[Iterator]:
    """The outcomes of ``fn(*args, i)`` for ``i = 0 .. count - 1`` in index order (a
    :class:`Lost` where the work never came back): computed here when asked for (``jobs``
    1, no ``dask``), or all started at once on ``jobs`` forked processes or on the Dask
    cluster ``dask`` (an address or a Client; tasks' keys start with ``label``). Elsewhere
    ``fn`` runs quietly (:func:`symcnn.progress.quiet`) in a fresh context; on Dask ``fn``
    and ``args`` travel pickled (by cloudpickle where plain pickle cannot)."""
    if dask is not None:
        with _on_dask(fn, args, count, dask, label) as results:
            yield results
    elif jobs == 1:
        yield (fn(*args, index) for index in range(count))
    else:
        pool = _Pool(fn, args, count, jobs)
        try:
            yield pool.outcomes()
        finally:
            pool.close()


def _quietly(fn: Callable, *args):
    """``fn(*args)``, silenced, in a fresh context: away from a progress task of the
    process that forked this one."""
    return contextvars.Context().run(_silenced, fn, args)


def _silenced(fn: Callable, args: tuple):
    with progress.quiet():
        return fn(*args)


@dataclass
class _Worker:
    """A forked worker process, the parent's end of its pipe, and the index it holds."""

    process: multiprocessing.process.BaseProcess
    pipe: multiprocessing.connection.Connection
    index: int | None = None


class _Pool:
    """Up to ``jobs`` forked workers, each given one index at a time through its pipe. The
    parent waits on the pipes and the process sentinels, so a worker's death names the
    index it held: a replacement is forked and the index given again, or after
    :data:`ALLOWED_FAILURES` retries it is :class:`Lost`."""

    def __init__(self, fn: Callable, args: tuple, count: int, jobs: int):
        self.fn, self.args, self.count, self.jobs = fn, args, count, jobs
        self.context = multiprocessing.get_context("fork")  # the children inherit fn, args
        self.todo = deque(range(count))
        self.done: dict[int, object] = {}
        self.deaths: Counter[int] = Counter()
        self.workers: list[_Worker] = []
        self._dispatch()

    def outcomes(self) -> Iterator:
        for index in range(self.count):
            while index not in self.done:
                self._wait()
                self._dispatch()
            yield self.done.pop(index)

    def _dispatch(self) -> None:
        """Give each idle worker the lowest index left, forking workers (up to ``jobs``)
        while indices are left over."""
        idle = [worker for worker in self.workers if worker.index is None]
        while len(idle) < len(self.todo) and len(self.workers) < self.jobs:
            idle.append(self._fork())
        for worker in idle[:len(self.todo)]:
            worker.index = self.todo.popleft()
            try:
                worker.pipe.send(worker.index)
            except OSError:  # it died: its sentinel says so at the next wait
                pass

    def _fork(self) -> _Worker:
        pipe, child = self.context.Pipe()
        parents = [pipe] + [worker.pipe for worker in self.workers]
        process = self.context.Process(target=_serve, args=(child, parents, self.fn, self.args),
                                       daemon=True, name="symcnn-campaign")
        process.start()
        child.close()
        worker = _Worker(process, pipe)
        self.workers.append(worker)
        return worker

    def _wait(self) -> None:
        """Take the results of the busy workers that are ready, and the deaths."""
        busy = [w for w in self.workers if w.index is not None]
        ready = set(wait([w.pipe for w in busy] + [w.process.sentinel for w in busy]))
        for worker in busy:
            if worker.pipe not in ready and worker.process.sentinel not in ready:
                continue
            try:
                index, outcome = worker.pipe.recv()
            except (EOFError, OSError):  # it died holding its index
                self._lost(worker)
                continue
            self.done[index], worker.index = outcome, None
            if worker.process.sentinel in ready:  # it died after answering
                self._bury(worker)

    def _lost(self, worker: _Worker) -> None:
        index = worker.index
        self._bury(worker)
        self.deaths[index] += 1
        if self.deaths[index] <= ALLOWED_FAILURES:
            self.todo.appendleft(index)
        else:
            self.done[index] = Lost(f"its worker process died {self.deaths[index]} times "
                                    f"(the last {_death(worker.process)})")

    def _bury(self, worker: _Worker) -> None:
        worker.process.join()
        worker.pipe.close()
        self.workers.remove(worker)

    def close(self) -> None:
        """Stop every worker (those still verifying are cancelled)."""
        for worker in self.workers:
            worker.process.terminate()
        for worker in self.workers:
            worker.process.join()
            worker.pipe.close()
        self.workers.clear()


def _death(process: multiprocessing.process.BaseProcess) -> str:
    """How a joined process ended: ``killed by SIGKILL`` or ``exit code 3``."""
    code = process.exitcode
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _serve(pipe: multiprocessing.connection.Connection,
           parents: list[multiprocessing.connection.Connection], fn: Callable,
           args: tuple) -> None:
    """A worker: for each index received, send back ``(index, fn(*args, index))``, until
    the parent is gone (the parent's pipe ends inherited by the fork, ``parents``, are
    closed first, so the parent's death ends every pipe). Ctrl-C is the parent's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for end in parents:
        end.close()
    while True:
        try:
            index = pipe.recv()
        except EOFError:  # the parent died
            return
        pipe.send((index, _quietly(fn, *args, index)))


@contextmanager
def _on_dask(fn: Callable, args: tuple, count: int, dask, label: str) -> Iterator[Iterator]:
    """One task per index on the Dask cluster ``dask``, a Client made from an address
    closed on leaving; unfinished tasks cancelled."""
    with connect(dask) if isinstance(dask, str) else nullcontext(dask) as client:
        token = uuid.uuid4().hex[:8]
        futures = [client.submit(_quietly, fn, *args, index, key=f"{label}-{token}-{index}",
                                 pure=False) for index in range(count)]
        try:
            yield (_result(future, index) for index, future in enumerate(futures))
        finally:
            if client.status == "running":  # not closed under us
                client.cancel(futures)


def _result(future, index: int):
    """The outcome of a task; ``KilledWorker`` (its workers kept dying) is :class:`Lost`, a
    cancelled task an ``OSError`` (it has no outcome)."""
    import distributed

    try:
        return future.result()
    except distributed.KilledWorker as error:
        return Lost(f"its Dask task was lost: {_one_line(error)}")
    except CancelledError as error:
        raise ConnectionError(f"instance {index} was cancelled on the Dask cluster before it "
                              f"finished ({_one_line(error)}): no result for it") from None


def _one_line(error: Exception) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")
