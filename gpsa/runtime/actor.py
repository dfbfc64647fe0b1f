"""Actor base classes: :class:`Producer`, :class:`Filter`, :class:`Consumer`, :class:`GlobalActor`.

Every actor has the same life, driven by :class:`gpsa.runtime.chain.Chain`:

1. **configure** — ``Actor(**settings)``: the settings are checked against the parameters
   declared on the class (:class:`gpsa.config.params.Param`); nothing is opened yet.
2. **start(context)** — open files, load the basis, allocate memory. Called in the main thread
   for every actor before any block moves.
3. **process(block)** — once per block, in the actor's own thread (or in one of ``workers``
   threads at once for a filter marked ``thread_safe``). A producer instead yields blocks from
   :meth:`Producer.produce`.
4. **flush()** — after the last block: emit what is buffered (filters) or finish writing
   (consumers). Called also after Ctrl-C or another stage's failure, so that nothing already
   read is lost.
5. **finish(complete)** — consumers only, after every consumer flushed: ``complete`` is True
   when the producer reached the end of its input and every block went through without error
   or abandon. End markers (ADF meta:eof) are written only then.
6. **stop()** — close files and free resources; called always, even after an error.

Outputs: a consumer opens its files through :meth:`RunContext.output_file`, which hands out a
staged ``NAME.partial`` path. The host renames it to ``NAME`` when the crystal's run is
complete, and leaves ``NAME.partial`` (valid up to the last block written) otherwise, so a
file under its final name is always complete.

Actors are registered by plugins through the ``gpsa_register_actors`` hook (see
:mod:`gpsa.plugins.hookspecs`); ``name`` is the key used in run files (``actor = "psa"``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gpsa.config.params import Configurable

#: Anything passed between actors; in gpsa a CrystalBlock or a PsaBlock.
Block = Any

ACTOR_KINDS = ("producer", "filter", "consumer", "global")


@dataclass
class RunContext:
    """What an actor learns about the run when it starts.

    crystal:     crystal name (``"00A"``) or ``""`` outside a per-crystal run
    output_dir:  folder where this crystal's outputs go (created by the host)
    config_dir:  folder of the run file (relative input paths are resolved against it)
    device:      ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (already checked by the host; the kind
                 is the part before ``:``)
    stop_event:  set when the run is asked to stop (Ctrl-C); long producers should watch it
    extra:       free-form values for cooperating actors (e.g. the simulator's truth file)
    observer:    the process's :class:`gpsa.monitor.observe.Observer` when the run is
                 monitored (the chain then feeds it for every stage), else None
    metrics:     counters, gauges, histograms for this crystal (:class:`~gpsa.monitor.observe.
                 Metrics`), published with the run's when it is monitored
    """

    crystal: str = ""
    output_dir: Path = field(default_factory=Path.cwd)
    config_dir: Path = field(default_factory=Path.cwd)
    device: str = "cpu"
    stop_event: threading.Event = field(default_factory=threading.Event)
    extra: dict[str, Any] = field(default_factory=dict)
    observer: Any = None
    _metrics: Any = field(default=None, init=False, repr=False, compare=False)

    #: staged outputs handed out by :meth:`output_file`: (partial path, final path)
    outputs: list[tuple[Path, Path]] = field(default_factory=list)

    @property
    def metrics(self) -> Any:
        """The run's metrics bound to this crystal (see the class docstring)."""
        if self._metrics is None:
            from gpsa.monitor.observe import detached_metrics

            self._metrics = (self.observer.for_crystal(self.crystal)
                             if self.observer is not None else detached_metrics())
        return self._metrics

    def output_path(self, path: Path | str) -> Path:
        """``path`` resolved against :attr:`output_dir` (absolute paths stay as they are), with
        ``{crystal}`` replaced by the crystal name (other braces are kept as they are)."""
        path = Path(str(path).replace("{crystal}", self.crystal))
        return path if path.is_absolute() else self.output_dir / path

    def output_file(self, path: Path | str) -> Path:
        """The staged path to write ``path`` to: ``NAME.partial`` beside the final ``NAME``
        (see :func:`gpsa.runtime.outputs.stage_output`); committed by the host when the run is
        complete."""
        from gpsa.runtime.outputs import stage_output

        final = self.output_path(path)
        partial = stage_output(final)
        self.outputs.append((partial, final))
        return partial


class Actor(Configurable):
    """Base of all actors. Subclasses set ``name`` and declare their :class:`Param` settings."""

    #: Registered name, used as ``actor = NAME`` in run files.
    name: ClassVar[str] = ""
    #: One of :data:`ACTOR_KINDS`; set by the direct base classes.
    kind: ClassVar[str] = ""
    #: True when :meth:`process` may run in several threads at once (``workers > 1``).
    thread_safe: ClassVar[bool] = False
    #: Readers that :meth:`check` runs on the input files named by these settings (setting name
    #: -> function of the path that raises on a bad file), e.g. a calibration table parser.
    input_readers: ClassVar[dict[str, Callable[[Path], Any]]] = {}

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        #: Stage label in the chain (the run file's ``name``; defaults to the actor name).
        self.label: str = type(self).name or type(self).__name__
        self.context: RunContext = RunContext()

    @classmethod
    def summary(cls) -> str:
        """First line of the class docstring (shown by ``gpsa plugins``)."""
        return (cls.__doc__ or "").strip().split("\n", 1)[0]

    def start(self, context: RunContext) -> None:
        """Open resources. The default keeps ``context`` in :attr:`context`."""
        self.context = context

    def check(self, context: RunContext) -> list[str]:
        """Check, before any data is read, that :meth:`start` will succeed: input files of the
        right kind, optional dependencies installed; cheap, no outputs opened, no GPU memory
        taken. Raise :class:`gpsa.errors.ConfigError` (or another GpsaError) naming the problem;
        return warnings. The default runs :attr:`input_readers`. Called by ``gpsa config
        check`` and at the start of ``gpsa run``."""
        for name, reader in self.input_readers.items():
            value = self.settings.get(name)
            if value:
                reader(Path(value))
        return []

    def stop(self) -> None:
        """Close resources; must be safe to call after a failed :meth:`start`."""

    def counters(self) -> dict[str, int]:
        """The actor's own counters for the run summary and provenance (e.g. frames skipped);
        called once, after the run."""
        return {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r}>"


class Producer(Actor):
    """Source of blocks (ADF file, Redis stream, simulator)."""

    kind = "producer"

    def produce(self) -> Iterator[Block]:
        """Yield blocks until the input ends. The chain stops asking when a stop is requested,
        then closes the generator (so ``finally`` clauses run)."""
        raise NotImplementedError

    def expected_events(self) -> int | None:
        """Number of events the producer will yield, if known (for progress bars)."""
        return None

    def acknowledge(self, block: Block) -> None:
        """Called (from a consumer's thread) once every consumer has written ``block``, the
        result of the producer's blocks up to its last event: a stream producer acknowledges
        its input only now (nothing is lost if the process dies before)."""


class Filter(Actor):
    """Transforms blocks (preprocessing, PSA, post-PSA)."""

    kind = "filter"

    def process(self, block: Block) -> Block | None:
        """The transformed block, or None to drop it."""
        raise NotImplementedError

    def flush(self) -> Iterable[Block]:
        """Blocks still buffered after the last input block."""
        return ()


class Consumer(Actor):
    """Sink of blocks (ADF file, ROOT tree, run summary)."""

    kind = "consumer"

    def process(self, block: Block) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write whatever is buffered; the output must be valid afterwards."""

    def finish(self, complete: bool) -> None:
        """After every consumer flushed: ``complete`` says whether the whole input went
        through. Write end markers (meta:eof) only when it is True."""


class GlobalActor(Actor):
    """Actor of the global level reading several crystal streams (event builder, merger,
    tracking). ``source`` names the stream a block came from; the actor returns the blocks it
    emits (possibly none, while it waits for coincidences)."""

    kind = "global"

    def process(self, block: Block, source: str = "") -> Iterable[Block]:
        raise NotImplementedError

    def flush(self) -> Iterable[Block]:
        return ()


def block_events(block: Block) -> int:
    """Number of events in a block (0 for objects without a length)."""
    try:
        return len(block)
    except TypeError:
        return 0


def block_event_range(block: Block) -> tuple[int, int] | None:
    """First and last event number of a block, when it carries event numbers."""
    numbers = getattr(block, "event_numbers", None)
    if numbers is None:
        numbers = getattr(getattr(block, "events", None), "event_numbers", None)
    if numbers is None or len(numbers) == 0:
        return None
    return int(numbers[0]), int(numbers[-1])
