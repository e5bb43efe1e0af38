"""The simulator kit: one ``sim://NAME?param=...`` registry and parser (:mod:`.url`), one
control protocol (JSON lines over a UNIX socket, :mod:`.control`), one fault vocabulary
(:data:`hardware.sim.url.FAULTS`, documented in ``hardware/sim/README.md``), and the demo
world the simulators show (:mod:`.faces`, :mod:`.demo`). Each device's simulator speaks that
device's real wire protocol and lives beside it (``hardware/<device>/simulator.py``); it is
imported only when a ``sim://`` URL asks for it."""
