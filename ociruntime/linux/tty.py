"""pty ioctl numbers Python's termios lacks, from the system headers (csrc/constants.cdef)."""

from __future__ import annotations

from ociruntime.linux._lib import lib

TIOCGPTN: int = lib.TIOCGPTN  # the pty number of a master
TIOCSPTLCK: int = lib.TIOCSPTLCK  # (un)lock the peer
TIOCGPTPEER: int = lib.TIOCGPTPEER  # open the peer through the master (Linux 4.13+)
